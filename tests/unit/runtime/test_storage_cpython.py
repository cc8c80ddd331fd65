"""Atomic small-file storage: replace, fsync, previous good copy, and a writer killed mid-write."""

import json
import os
import signal
import subprocess
import sys
import time

from firmware.app.calllog import ANSWERED, OUTGOING, CallEntry, CallLog
from firmware.runtime import storage
from firmware.runtime.storage import PREV_SUFFIX, TMP_SUFFIX, read_good, read_text, write_atomic

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__)))))


def test_write_then_read(tmp_path):
    path = str(tmp_path / "calls.json")
    assert read_good(path) == (None, None)
    write_atomic(path, "one")
    assert read_good(path) == ("one", "current")
    assert not os.path.exists(path + TMP_SUFFIX)
    assert not os.path.exists(path + PREV_SUFFIX)  # nothing to keep the first time


def test_replacing_keeps_the_previous_good_copy(tmp_path):
    path = str(tmp_path / "calls.json")
    write_atomic(path, "one")
    write_atomic(path, "two")
    assert read_text(path) == "two"
    with open(path + PREV_SUFFIX) as handle:
        assert handle.read() == "one"
    write_atomic(path, "three")
    with open(path + PREV_SUFFIX) as handle:
        assert handle.read() == "two"
    # the previous copy is a file of its own, not the same inode as the new one
    assert os.stat(path).st_ino != os.stat(path + PREV_SUFFIX).st_ino


def test_a_broken_file_falls_back_to_the_previous_copy(tmp_path):
    path = str(tmp_path / "calls.json")
    write_atomic(path, json.dumps({"n": 1}))
    write_atomic(path, json.dumps({"n": 2}))
    with open(path, "w") as handle:
        handle.write('{"n": ')  # what a lost write can leave behind
    data, where = read_good(path, check=json.loads)
    assert (json.loads(data), where) == ({"n": 1}, "previous")
    # without a check the reader cannot know: it returns what is there
    assert read_good(path) == ('{"n": ', "current")
    os.remove(path)
    assert read_good(path, check=json.loads)[1] == "previous"


def test_a_broken_file_is_not_kept_as_the_previous_copy(tmp_path):
    path = str(tmp_path / "calls.json")
    write_atomic(path, json.dumps({"n": 1}), check=json.loads)
    write_atomic(path, json.dumps({"n": 2}), check=json.loads)
    with open(path, "w") as handle:
        handle.write("garbage")
    write_atomic(path, json.dumps({"n": 3}), check=json.loads)
    assert json.loads(read_text(path, json.loads)) == {"n": 3}
    with open(path + PREV_SUFFIX) as handle:
        assert json.loads(handle.read()) == {"n": 1}


def test_check_may_return_false(tmp_path):
    path = str(tmp_path / "f")
    write_atomic(path, "good")
    write_atomic(path, "bad")
    assert read_good(path, check=lambda text: text == "good") == ("good", "previous")
    assert read_good(path, check=lambda text: False) == (None, None)


def test_bytes_and_undecodable_text(tmp_path):
    path = str(tmp_path / "blob")
    write_atomic(path, b"\x00\xff\x10")
    assert read_good(path, binary=True) == (b"\x00\xff\x10", "current")
    # as text it does not decode: unusable, and there is no previous copy
    assert read_good(path) == (None, None)


def test_a_left_over_temporary_file_does_no_harm(tmp_path):
    path = str(tmp_path / "calls.json")
    write_atomic(path, "one")
    with open(path + TMP_SUFFIX, "w") as handle:
        handle.write("half a wri")
    assert read_text(path) == "one"
    write_atomic(path, "two")
    assert read_text(path) == "two"
    assert not os.path.exists(path + TMP_SUFFIX)


def test_relative_paths_and_discard(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_atomic("plain.json", "a")
    write_atomic("plain.json", "b")
    assert read_text("plain.json") == "b"
    storage.discard("plain.json")
    assert os.listdir(str(tmp_path)) == []


def test_file_and_directory_are_fsynced(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync

    def fsync(fd):
        synced.append(os.path.realpath("/proc/self/fd/%d" % fd) if os.path.exists("/proc/self/fd")
                      else fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    path = str(tmp_path / "calls.json")
    write_atomic(path, "one")
    names = [str(name) for name in synced]
    if os.path.exists("/proc/self/fd"):
        assert names[0].endswith("calls.json" + TMP_SUFFIX)
        assert names[-1] == os.path.realpath(str(tmp_path))
    else:
        assert len(synced) == 2


def test_the_call_log_through_storage(tmp_path):
    path = str(tmp_path / "calllog.json")
    log = CallLog(10)
    log.add(CallEntry(OUTGOING, ANSWERED, "sip:2345@example.com", number="2345", duration=7))
    write_atomic(path, log.to_json(), check=CallLog.from_json)
    log.add(CallEntry(OUTGOING, ANSWERED, "sip:3456@example.com", number="3456"))
    write_atomic(path, log.to_json(), check=CallLog.from_json)
    with open(path, "w") as handle:
        handle.write('{"format": 1, "calls": [')
    text, where = read_good(path, check=CallLog.from_json)
    assert where == "previous"
    assert [e.number for e in CallLog.from_json(text).entries] == ["2345"]


# -- a writer killed at random moments --------------------------------------------------------

WRITER = r"""
import sys
import time
sys.path.insert(0, sys.argv[1])
from firmware.runtime import storage
from firmware.runtime.storage import write_atomic

def slow_write(path, data):
    # a slow medium: the file grows 4 KB at a time, so kills land inside the data
    with open(path, "wb") as handle:
        for start in range(0, len(data), 4096):
            handle.write(data[start:start + 4096])
            handle.flush()
            time.sleep(0.0001)
        storage._sync_file(handle)

storage._write_file = slow_write
path, size = sys.argv[2], int(sys.argv[3])
contents = [("A" * size).encode(), ("B" * size).encode()]
write_atomic(path, contents[0])
print("ready", flush=True)
n = 1
while True:
    write_atomic(path, contents[n % 2])
    n += 1
"""


def test_a_writer_killed_mid_write_leaves_the_old_or_the_new_content(tmp_path):
    size = 1 << 20
    good = (b"A" * size, b"B" * size)
    path = str(tmp_path / "state.bin")
    interrupted = 0
    partial = 0
    for round_number in range(24):
        child = subprocess.Popen([sys.executable, "-c", WRITER, ROOT, path, str(size)],
                                 stdout=subprocess.PIPE)
        try:
            assert child.stdout.readline() == b"ready\n"
            # vary where in the write loop the kill lands
            time.sleep(0.002 + (round_number % 8) * 0.007)
            os.kill(child.pid, signal.SIGKILL)
        finally:
            child.wait()
            child.stdout.close()
        assert child.returncode == -signal.SIGKILL
        with open(path, "rb") as handle:
            data = handle.read()
        assert data in good, "round %d: the file holds %d bytes of a mixture" % (
            round_number, len(data))
        assert read_good(path, binary=True) == (data, "current")
        if os.path.exists(path + PREV_SUFFIX):
            with open(path + PREV_SUFFIX, "rb") as handle:
                assert handle.read() in good
        if os.path.exists(path + TMP_SUFFIX):
            interrupted += 1  # killed between creating the temporary file and the rename
            if os.path.getsize(path + TMP_SUFFIX) not in (0, size):
                partial += 1  # ... while the new content was half written
    # the test shows something only if kills landed inside writes
    assert interrupted > 0 and partial > 0, (interrupted, partial)
