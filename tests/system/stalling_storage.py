"""Run a program with firmware/runtime/storage.py stalling inside one write.

    python stalling_storage.py --at N --point tmp-half|before-rename PROGRAM ARGS...

Rule: test equipment for the crash test. The N-th call-log write of the
program stops for good at the chosen point, after printing ``STALLED <point>``,
so that the test can kill -9 the process right there:

    tmp-half       half of the new content written to ``<file>.tmp`` (flushed
                   and synced), the rest never comes
    before-rename  ``<file>.tmp`` complete, the previous copy kept, the rename
                   over the file not done

Everything else runs unchanged (runpy), the write path included.
"""

import argparse
import os
import runpy
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from firmware.runtime import storage  # noqa: E402

STALL_S = 600


def _stall(point):
    sys.stdout.write("STALLED %s\n" % point)
    sys.stdout.flush()
    time.sleep(STALL_S)


def install(at, point):
    writes = [0]
    renames = [0]
    write_file = storage._write_file
    rename_over = storage._rename_over

    def is_new_content(path):
        return path.endswith(storage.TMP_SUFFIX) and not path.endswith(
            storage.PREV_SUFFIX + storage.TMP_SUFFIX)

    def stalling_write(path, data):
        if point == "tmp-half" and is_new_content(path):
            writes[0] += 1
            if writes[0] == at:
                with open(path, "wb" if isinstance(data, bytes) else "w") as handle:
                    handle.write(data[:len(data) // 2])
                    handle.flush()
                    os.fsync(handle.fileno())
                _stall(point)
        return write_file(path, data)

    def stalling_rename(source, target):
        if point == "before-rename" and is_new_content(source):
            renames[0] += 1
            if renames[0] == at:
                _stall(point)
        return rename_over(source, target)

    storage._write_file = stalling_write
    storage._rename_over = stalling_rename


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--at", type=int, required=True)
    parser.add_argument("--point", choices=("tmp-half", "before-rename"), required=True)
    parser.add_argument("program")
    parser.add_argument("args", nargs=argparse.REMAINDER)
    options = parser.parse_args()
    install(options.at, options.point)
    sys.argv = [options.program] + options.args
    runpy.run_path(options.program, run_name="__main__")


if __name__ == "__main__":
    main()
