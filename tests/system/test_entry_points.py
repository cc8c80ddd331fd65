"""The two ways a person starts the simulated phone: ``python -m firmware`` and ``make sim``.

Rule: ``python -m firmware --board boards/sim.json --config FILE`` runs the
handset with the phone (the same wiring a real board gets) and stops cleanly
on SIGTERM; tools/simdemo (the program behind ``make sim``) runs its scripted
call with no terminal on stdin, exits 0 and leaves no process behind.
"""

import json
import os
import re
import signal
import subprocess
import sys

from simsupport import BOARD, ROOT, SIMDEMO, OutputReader, SimSetup

from firmware.app.calllog import CallEntry, CallLog
from firmware.runtime import storage


def test_python_m_firmware_runs_the_handset_of_the_board(tmp_path, proxy, certs):
    sim = SimSetup(tmp_path, proxy, certs, {"alice": ("2001", {})})
    # a call log from an earlier run, with a missed call nobody has seen yet
    earlier = CallLog(10, [CallEntry("in", "missed", "sip:2002@example.test")])
    storage.write_atomic(sim.call_logs["alice"], earlier.to_json())
    proc = subprocess.Popen([sys.executable, "-m", "firmware", "--board", BOARD, "--config",
                             sim.paths["alice"]], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    reader = OutputReader(proc)
    try:
        reader.wait_for("REGISTERED", 10)
        reader.wait_for("| Registered", 5)
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(15)
    output = reader.text()
    assert code == 0, output
    assert "CALLLOG entries=1 from=current" in output
    assert "1 missed call" in output              # the display shows it ...
    assert "LED name=message state=blink" in output   # ... and the message LED flashes
    assert re.search(r"SCREEN Alice +\d\d:\d\d", output)   # 20x4 display of the board
    assert "UNREGISTERED" in output


def test_simdemo_without_a_terminal_runs_the_scripted_call_and_exits(tmp_path):
    workdir = tmp_path / "demo"
    done = subprocess.run([sys.executable, SIMDEMO, "--workdir", os.fspath(workdir)],
                          cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=90)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "The scripted call went as expected." in output
    for expected in ("alice  KEY key=#", "bob    OFFERED call=1", "bob    RINGER state=on",
                     "alice  TONE name=ringback", "bob    OFFHOOK", "alice  CONNECTED call=1",
                     "bob    DTMF call=1 digit=3", "alice  ONHOOK", "bob    TONE name=busy"):
        assert expected in output, expected
    assert "|Incoming call       |" in output          # the screens, drawn
    # the call logs it kept say the same
    with open(workdir / "alice-calls.json") as handle:
        alice = json.load(handle)
    assert [(c["dir"], c["status"], c["number"]) for c in alice["calls"]] == [
        ("out", "answered", "2002")]
    # Kamailio was stopped: its pid is gone
    pid = int(re.search(r"Kamailio: TLS on 127\.0\.0\.1:\d+, .* \(pid (\d+)\)", output).group(1))
    assert not os.path.exists("/proc/%d" % pid) or _zombie(pid)


def _zombie(pid):
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
