"""Run plain `test_*` functions under MicroPython (and CPython) without pytest.

Usage: micropython tests/mprun.py [-q] PATH...   (run from the project root)

Rule: uses nothing but the standard library MicroPython's unix port has.
Each PATH is a test file or a directory searched recursively for ``test_*.py``;
files ending in ``_cpython.py`` need CPython and are skipped. Every file is
imported with the project root (the current directory) and its own directory
on sys.path, then each module-level function whose name starts with ``test_``
is called, in the order of its ``def`` in the file. Any exception fails that
test and is printed after a ``FAIL file::name`` line; a file that does not
import counts as one failure (``FAIL file::import``). The last line is the
summary ``N passed, N failed``. Exit status: 1 if anything failed, 2 on a
usage error, else 0. ``-q`` prints only failures and the summary.
"""

import gc
import os
import sys

S_IFMT = 0xF000
S_IFDIR = 0x4000
CPYTHON_SUFFIX = "_cpython.py"


def print_exception(exc):
    """The exception with its traceback, on stdout, on either interpreter."""
    if hasattr(sys, "print_exception"):
        sys.print_exception(exc)
    else:
        import traceback

        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stdout)


def join(path, name):
    return name if path in ("", ".") else path.rstrip("/") + "/" + name


def normalize(path):
    """An absolute path without '.' and '..' parts (no os.path on MicroPython)."""
    if not path.startswith("/"):
        path = os.getcwd().rstrip("/") + "/" + path
    parts = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
        else:
            parts.append(part)
    return "/" + "/".join(parts)


def kind(path):
    """'dir', 'file' or None when the path does not exist."""
    try:
        mode = os.stat(path)[0]
    except OSError:
        return None
    return "dir" if mode & S_IFMT == S_IFDIR else "file"


def find_tests(path, found):
    """Append the test files under a directory to found, sorted, recursively."""
    for name in sorted(os.listdir(path)):
        if name.startswith(".") or name == "__pycache__":
            continue
        full = join(path, name)
        what = kind(full)
        if what == "dir":
            find_tests(full, found)
        elif what == "file" and name.startswith("test_") and name.endswith(".py"):
            found.append(full)


def split_file(path):
    """(directory, module name) of a .py path."""
    cut = path.rfind("/")
    folder = path[:cut] if cut >= 0 else "."
    return folder, path[cut + 1:-3]


def collect_tests(path, module):
    """Names of the module's test functions, in the order of their def lines."""
    names = []
    with open(path) as source:
        for line in source:
            if line.startswith("def test_"):
                name = line[4:].split("(", 1)[0].strip()
                if name not in names:
                    names.append(name)
    extra = sorted(n for n in dir(module) if n.startswith("test_") and n not in names)
    tests = []
    for name in names + extra:
        obj = getattr(module, name, None)
        if obj is not None and callable(obj) and not isinstance(obj, type):
            tests.append(name)
    return tests


class Runner:
    def __init__(self, quiet):
        self.quiet = quiet
        self.passed = 0
        self.failed = 0

    def fail(self, label, exc):
        self.failed += 1
        print("FAIL " + label)
        print_exception(exc)

    def run_file(self, path):
        folder, name = split_file(path)
        folder = normalize(folder)
        before = set(sys.modules)
        sys.path.insert(0, folder)
        passed, failed = self.passed, self.failed
        try:
            try:
                module = __import__(name)
            except KeyboardInterrupt:
                raise
            except BaseException as exc:
                self.fail(path + "::import", exc)
                return
            for test in collect_tests(path, module):
                self.run_test(path, test, getattr(module, test))
        finally:
            if folder in sys.path:
                sys.path.remove(folder)
            self.forget(before, folder, name)
            gc.collect()
            if not self.quiet:
                line = "%s: %d passed" % (path, self.passed - passed)
                if self.failed > failed:
                    line += ", %d failed" % (self.failed - failed)
                print(line)

    def run_test(self, path, name, function):
        try:
            result = function()
            if type(result).__name__ in ("generator", "coroutine"):
                if hasattr(result, "close"):
                    result.close()
                raise TypeError("%s is a generator or coroutine, so its body never ran; "
                                "test functions are plain functions" % name)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            self.fail(path + "::" + name, exc)
        else:
            self.passed += 1

    def forget(self, before, folder, name):
        """Drop the modules this file brought in from its own folder (names repeat)."""
        prefix = folder.rstrip("/") + "/"
        for key in list(sys.modules):
            if key in before:
                continue
            source = getattr(sys.modules[key], "__file__", None) or ""
            if key == name or normalize(source).startswith(prefix):
                del sys.modules[key]
        if name in sys.modules:
            del sys.modules[name]


def main(argv):
    quiet = False
    paths = []
    for arg in argv:
        if arg == "-q":
            quiet = True
        elif arg in ("-h", "--help"):
            print(__doc__.strip())
            return 0
        elif arg.startswith("-"):
            print("mprun: unknown option %s (use -q)" % arg)
            return 2
        else:
            paths.append(arg)
    if not paths:
        print("usage: mprun.py [-q] PATH...")
        return 2
    root = os.getcwd()
    if root not in sys.path:
        sys.path.insert(0, root)
    files = []
    for path in paths:
        what = kind(path)
        if what is None:
            print("mprun: no such file or directory: %s" % path)
            return 2
        if what == "dir":
            find_tests(path.rstrip("/") or "/", files)
        elif path.endswith(".py"):
            files.append(path)
    runner = Runner(quiet)
    skipped = 0
    for path in files:
        if path.endswith(CPYTHON_SUFFIX):
            skipped += 1
            if not quiet:
                print("%s: skipped (CPython only)" % path)
            continue
        runner.run_file(path)
    if not files:
        print("mprun: no test files found in %s" % " ".join(paths))
    print("%d passed, %d failed" % (runner.passed, runner.failed))
    return 1 if runner.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
