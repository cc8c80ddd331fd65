"""The call log survives the phone being killed (kill -9) in the middle of writing it.

Rule: a simulated phone (tools/phonesim, the firmware's runtime and handset)
makes calls that fail at the proxy (404: nobody has that number), each of
which the handset logs and the runtime stores with storage.write_atomic. The
second write is stalled at a chosen point (tests/system/stalling_storage.py)
and the process group is SIGKILLed there. The file on disk must be the
first write, whole; and a phone started again on the same configuration
must load it, add the next call and store both.
"""

import json
import os
import subprocess
import sys

import pytest
from simsupport import OutputReader, SimSetup, kill_group

from firmware.app.calllog import CallLog

STALLER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "stalling_storage.py")

FIRST_RUN = """
wait REGISTERED 5
offhook
press 2991#
wait TASKFAIL 5                  # the handset logs the call and stores it right away
onhook
offhook
press 2992#
wait TASKFAIL 5
sleep 60                         # the second write stalls: the test kills the phone
"""

SECOND_RUN = """
wait REGISTERED 5
offhook
press 2993#
wait TASKFAIL 5
onhook
quit
"""


@pytest.mark.parametrize("point", ["tmp-half", "before-rename"])
def test_call_log_is_whole_after_kill_during_write(tmp_path, proxy, certs, point):
    sim = SimSetup(tmp_path, proxy, certs, {"carol": ("2009", {})})
    path = sim.call_logs["carol"]
    proc = sim.start(FIRST_RUN, wrapper=[STALLER, "--at", "2", "--point", point])
    reader = OutputReader(proc)
    try:
        reader.wait_for("STALLED %s" % point, 20)
    finally:
        kill_group(proc)
    output = reader.text()
    assert "CALLLOG entries=1 saved=yes" in output, output
    assert "CALLLOG entries=2" not in output

    # the kill came in the middle of the second write ...
    with open(path + ".tmp") as handle:
        unfinished = handle.read()
    if point == "tmp-half":
        with pytest.raises(ValueError):
            json.loads(unfinished)
    else:
        assert len(CallLog.from_json(unfinished)) == 2
    # ... and the file itself is the first write, whole
    with open(path) as handle:
        stored = CallLog.from_json(handle.read())
    assert [(e.status, e.number) for e in stored.entries] == [("failed", "2991")]
    assert "404" in stored.entries[0].reason

    again = sim.run(SECOND_RUN)
    assert again.code == 0, again.output
    loaded = again.of(None, "CALLLOG")[0]
    assert (loaded.field("entries"), loaded.field("from")) == ("1", "current")
    assert again.of(None, "CALLLOG")[-1].field("entries") == "2"
    with open(path) as handle:
        stored = CallLog.from_json(handle.read())
    assert [e.number for e in stored.entries] == ["2993", "2991"]
    assert not os.path.exists(path + ".tmp")


def test_stalling_wrapper_runs_the_program_unchanged(tmp_path):
    # the test equipment itself: without reaching the N-th write, nothing changes
    script = tmp_path / "program.py"
    script.write_text("import sys\nfrom firmware.runtime import storage\n"
                      "storage.write_atomic(sys.argv[1], 'hello')\n")
    target = tmp_path / "file.txt"
    done = subprocess.run([sys.executable, STALLER, "--at", "2", "--point", "tmp-half",
                           os.fspath(script), os.fspath(target)], capture_output=True,
                          text=True, timeout=30, cwd=os.path.dirname(os.path.dirname(
                              os.path.dirname(os.path.abspath(__file__)))))
    assert done.returncode == 0, done.stderr
    assert target.read_text() == "hello"
