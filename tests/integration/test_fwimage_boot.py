"""The boot supervisor shipped in the image: trial boot, confirmation, and rollback.

Each test installs stand-in firmware whose ``python -m firmware`` confirms,
hangs, crashes or idles, then runs ``bin/deskphone-boot`` from the installed
``current`` slot exactly as the systemd unit does (with DESKPHONE_ROOT set to
the temporary board root) and checks which version ran and what state remains.
"""

import os
import subprocess
import sys
import time

import pytest

from fwimage_support import build_image, make_keys

from firmware.runtime import slots
from tools.fwimg import keys
from tools.fwimg.install import Installer


@pytest.fixture
def board(tmp_path):
    key, pub = make_keys(tmp_path / "keys")
    root = tmp_path / "root"
    root.mkdir()
    log = tmp_path / "firmware.log"

    class Board:
        pass

    b = Board()
    b.root, b.log = str(root), log

    def install(version, behaviour, first=False, **options):
        image = build_image(tmp_path, "%s-%s" % (version, behaviour), version,
                            behaviour=behaviour, private_key_file=key)
        public = keys.load_public_key(pub) if first else None
        Installer(b.root, public, "sim" if first else None, **options).install(image)

    def boot(extra_env=None, timeout=30):
        env = dict(os.environ, DESKPHONE_ROOT=b.root, DESKPHONE_PYTHON=sys.executable,
                   FAKE_FIRMWARE_LOG=str(log))
        env.update(extra_env or {})
        script = os.path.join(slots.current_link(b.root), "bin", "deskphone-boot")
        started = time.monotonic()
        proc = subprocess.run([sys.executable, script], env=env, capture_output=True,
                              text=True, timeout=timeout)
        proc.elapsed = time.monotonic() - started
        return proc

    def runs():
        return log.read_text().splitlines() if log.exists() else []

    b.install, b.boot, b.runs = install, boot, runs
    return b


def test_a_confirmed_install_runs_with_board_and_config(board):
    board.install("1.0.0", "confirm", first=True)
    proc = board.boot()
    assert proc.returncode == 0, proc.stderr
    [line] = board.runs()
    assert line.startswith("started 1.0.0 trial=0")
    assert "--board %s" % os.path.join(slots.slot_dir(board.root, "a"), "boards", "sim.json") \
        in line
    assert "--config %s" % os.path.join(board.root, "etc", "deskphone", "config.json") in line


def test_a_trial_that_registers_is_kept(board):
    board.install("1.0.0", "confirm", first=True)
    board.install("2.0.0", "confirm")
    proc = board.boot()
    assert proc.returncode == 0, proc.stderr
    assert "confirmed" in proc.stderr
    assert slots.read_state(board.root)["trial"] is False
    assert board.boot().returncode == 0
    assert [line.split()[1:3] for line in board.runs()] == [["2.0.0", "trial=1"],
                                                            ["2.0.0", "trial=0"]]


def test_a_trial_that_never_registers_is_stopped_and_rolled_back(board):
    board.install("1.0.0", "confirm", first=True)
    board.install("2.0.0", "hang", trial_seconds=1)
    proc = board.boot()
    assert proc.returncode == 3, proc.stderr
    assert "not confirmed in time" in proc.stderr
    assert proc.elapsed < 20
    assert os.readlink(slots.current_link(board.root)) == "slots/b"
    again = board.boot()
    assert again.returncode == 0, again.stderr
    assert "rolled back to version 1.0.0" in again.stderr
    assert os.readlink(slots.current_link(board.root)) == "slots/a"
    versions = [line.split()[1] for line in board.runs()]
    assert versions == ["2.0.0", "1.0.0"]
    state = slots.read_state(board.root)
    assert state["active"] == "a" and state["last_failure"]["version"] == "2.0.0"


def test_a_trial_that_crashes_is_rolled_back(board):
    board.install("1.0.0", "confirm", first=True)
    board.install("2.0.0", "crash")
    proc = board.boot()
    assert proc.returncode == 2 and "before it was confirmed" in proc.stderr
    assert board.boot().returncode == 0
    assert [line.split()[1] for line in board.runs()] == ["2.0.0", "1.0.0"]


def test_a_health_command_can_confirm_the_trial(board):
    board.install("1.0.0", "confirm", first=True)
    board.install("2.0.0", "slow", trial_seconds=30)
    proc = board.boot({"DESKPHONE_HEALTH_CMD": "test -d /", "DESKPHONE_HEALTH_INTERVAL": "1"})
    assert proc.returncode == 0, proc.stderr
    assert "confirmed by the health check" in proc.stderr
    assert slots.read_state(board.root)["trial"] is False


def test_a_failing_health_command_does_not_confirm(board):
    board.install("1.0.0", "confirm", first=True)
    board.install("2.0.0", "hang", trial_seconds=1)
    proc = board.boot({"DESKPHONE_HEALTH_CMD": "false", "DESKPHONE_HEALTH_INTERVAL": "0.2"})
    assert proc.returncode == 3
    assert slots.read_state(board.root)["trial"] is True
    assert board.boot().returncode == 0
    assert slots.read_state(board.root)["active"] == "a"


def test_no_firmware_is_reported(board, tmp_path):
    board.install("1.0.0", "confirm", first=True)
    os.unlink(slots.state_path(board.root))
    proc = board.boot()
    assert proc.returncode == 78 and "no firmware installed" in proc.stderr
