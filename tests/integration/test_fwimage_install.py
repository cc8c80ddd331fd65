"""Installing into A/B slots under a directory that stands for the board's root filesystem.

Covers the slot progression, trial boot and rollback through slots.begin_boot,
confirmation, downgrade and board refusals, a pending trial, and a full disk
(both the free-space check and ENOSPC in the middle of writing).
"""

import errno
import json
import os
import shutil

import pytest

from fwimage_support import build_image, make_keys, run_fwimage, snapshot

from firmware.runtime import slots
from tools.fwimg import InstallError, keys
from tools.fwimg.install import FileWriter, Installer


@pytest.fixture
def env(tmp_path):
    key, pub = make_keys(tmp_path / "keys")
    root = tmp_path / "root"
    root.mkdir()

    class Env:
        pass

    e = Env()
    e.tmp, e.root, e.key_file, e.pub_file = tmp_path, str(root), key, pub
    e.public = keys.load_public_key(pub)
    built = {}

    def image(version):
        if version not in built:
            built[version] = build_image(tmp_path, "v" + version, version, private_key_file=key)
        return built[version]

    e.image = image
    return e


def _state(root):
    return slots.read_state(root)


def _current(root):
    return os.readlink(slots.current_link(root))


def test_first_install_needs_a_board_and_a_key(env):
    image = env.image("1.0.0")
    with pytest.raises(InstallError, match="--board NAME"):
        Installer(env.root, env.public).install(image)
    with pytest.raises(InstallError, match="trusts no signing key yet"):
        Installer(env.root, None, "sim").install(image)
    assert os.listdir(env.root) == []
    result = Installer(env.root, env.public, "sim").install(image)
    assert result["slot"] == "a" and result["trial"] is False and result["trusted_new_key"]
    assert _current(env.root) == "slots/a"


def test_updates_alternate_slots_and_boot_on_trial(env):
    Installer(env.root, env.public, "sim").install(env.image("1.0.0"))
    result = Installer(env.root).install(env.image("1.1.0"))
    assert result["slot"] == "b" and result["trial"] and result["previous_version"] == "1.0.0"
    state = _state(env.root)
    assert (state["active"], state["previous"], state["trial"]) == ("b", "a", True)
    assert _current(env.root) == "slots/b"
    first = slots.begin_boot(env.root, 1000.0)
    assert first["slot"] == "b" and first["trial"] and not first["rolled_back"]
    assert first["deadline"] == 1000.0 + slots.DEFAULT_TRIAL_SECONDS
    assert slots.confirm(env.root) is True
    assert slots.confirm(env.root) is False
    again = slots.begin_boot(env.root, 2000.0)
    assert again["slot"] == "b" and not again["trial"]
    third = Installer(env.root).install(env.image("1.2.0"))
    assert third["slot"] == "a" and third["previous_version"] == "1.1.0"
    manifest = json.loads(open(os.path.join(slots.slot_dir(env.root, "a"),
                                            "manifest.json")).read())
    assert manifest["version"] == "1.2.0"


def test_a_trial_that_never_confirms_rolls_back_on_the_next_start(env):
    Installer(env.root, env.public, "sim").install(env.image("1.0.0"))
    Installer(env.root).install(env.image("1.1.0"))
    trial = slots.begin_boot(env.root, 100.0)
    assert trial["version"] == "1.1.0" and trial["trial"]
    # the phone never registers; the service stops and starts again
    back = slots.begin_boot(env.root, 130.0)
    assert back["rolled_back"] and back["slot"] == "a" and back["version"] == "1.0.0"
    assert "1.1.0" in back["reason"]
    assert _current(env.root) == "slots/a"
    state = _state(env.root)
    assert state["trial"] is False and state["previous"] is None
    assert state["last_failure"]["version"] == "1.1.0"
    steady = slots.begin_boot(env.root, 200.0)
    assert steady["slot"] == "a" and not steady["rolled_back"]
    # the failed slot is the one the next update overwrites
    assert Installer(env.root).install(env.image("1.1.1"))["slot"] == "b"


def test_a_trial_past_its_deadline_rolls_back_even_with_boots_left(env):
    Installer(env.root, env.public, "sim").install(env.image("1.0.0"))
    Installer(env.root, trial_seconds=60, trial_boots=3).install(env.image("1.1.0"))
    assert slots.begin_boot(env.root, 1000.0)["trial"]
    second = slots.begin_boot(env.root, 1030.0)
    assert second["trial"] and second["slot"] == "b" and not second["rolled_back"]
    late = slots.begin_boot(env.root, 1061.0)
    assert late["rolled_back"] and late["slot"] == "a"
    assert "deadline" in late["reason"]


def test_a_trial_slot_whose_files_vanished_rolls_back_at_once(env):
    Installer(env.root, env.public, "sim").install(env.image("1.0.0"))
    Installer(env.root).install(env.image("1.1.0"))
    os.unlink(os.path.join(slots.slot_dir(env.root, "b"), "manifest.json"))
    decision = slots.begin_boot(env.root, 5.0)
    assert decision["rolled_back"] and decision["slot"] == "a"


def test_downgrade_needs_an_explicit_flag(env):
    Installer(env.root, env.public, "sim").install(env.image("1.10.0"))
    older = env.image("1.9.0")
    before = snapshot(env.root)
    with pytest.raises(InstallError, match="older than the installed 1.10.0.*--allow-downgrade"):
        Installer(env.root).install(older)
    assert snapshot(env.root) == before
    proc = run_fwimage("install", "--root", env.root, older)
    assert proc.returncode == 1 and "--allow-downgrade" in proc.stderr
    assert snapshot(env.root) == before
    result = Installer(env.root, allow_downgrade=True).install(older)
    assert result["version"] == "1.9.0" and result["trial"]


def test_reinstalling_the_same_version_is_not_a_downgrade(env):
    image = env.image("1.0.0")
    Installer(env.root, env.public, "sim").install(image)
    assert Installer(env.root).install(image)["slot"] == "b"


def test_a_pending_trial_blocks_another_install_unless_replaced(env):
    Installer(env.root, env.public, "sim").install(env.image("1.0.0"))
    Installer(env.root).install(env.image("1.1.0"))
    before = snapshot(env.root)
    with pytest.raises(InstallError, match="still on trial"):
        Installer(env.root).install(env.image("1.2.0"))
    assert snapshot(env.root) == before
    result = Installer(env.root, replace_trial=True).install(env.image("1.2.0"))
    assert result["slot"] == "b" and result["previous_version"] == "1.0.0"
    state = _state(env.root)
    assert state["previous"] == "a" and state["slots"]["a"]["version"] == "1.0.0"


def test_board_given_on_the_command_line_must_match_the_target(env):
    Installer(env.root, env.public, "sim").install(env.image("1.0.0"))
    with pytest.raises(InstallError, match="--board rpi4 given, but the target is a sim board"):
        Installer(env.root, board="rpi4").install(env.image("1.1.0"))


def test_too_little_free_space_is_refused_before_writing(env):
    Installer(env.root, env.public, "sim").install(env.image("1.0.0"))
    before = snapshot(env.root)

    class Full(Installer):
        @staticmethod
        def disk_usage(path):
            return shutil._ntuple_diskusage(10 ** 9, 10 ** 9 - 8192, 8192)

    with pytest.raises(InstallError, match="not enough space.*nothing was written"):
        Full(env.root).install(env.image("1.1.0"))
    assert snapshot(env.root) == before


class _LimitedWriter(FileWriter):
    """Fails with ENOSPC once the install has written ``budget`` bytes."""

    budget = [0]

    def write(self, chunk):
        if self.budget[0] < len(chunk):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "slot")
        self.budget[0] -= len(chunk)
        super().write(chunk)


def test_disk_full_in_the_middle_of_writing_leaves_the_firmware_untouched(env):
    Installer(env.root, env.public, "sim").install(env.image("1.0.0"))
    Installer(env.root).install(env.image("1.1.0"))
    slots.begin_boot(env.root, 1.0)
    slots.confirm(env.root)
    before = snapshot(env.root)
    image = env.image("1.2.0")

    class Cramped(Installer):
        def open_file(self, path, mode):
            return _LimitedWriter(path, mode)

    for budget in (0, 3000, 60000):
        _LimitedWriter.budget[0] = budget
        with pytest.raises(InstallError, match="ran out of space.*untouched"):
            Cramped(env.root).install(image)
        assert snapshot(env.root) == before
        leftovers = [n for n in os.listdir(os.path.join(slots.base_dir(env.root), "slots"))
                     if n.startswith(".")]
        assert leftovers == []
    assert slots.begin_boot(env.root, 2.0)["version"] == "1.1.0"
    assert Installer(env.root).install(image)["slot"] == "a"


def test_a_failing_commit_puts_the_old_slot_back(env, monkeypatch):
    Installer(env.root, env.public, "sim").install(env.image("1.0.0"))
    Installer(env.root).install(env.image("1.1.0"))
    slots.begin_boot(env.root, 1.0)
    slots.confirm(env.root)
    before = snapshot(env.root)

    def no_space(root, state):
        raise OSError(errno.ENOSPC, "No space left on device", "state.json")

    monkeypatch.setattr(slots, "write_state", no_space)
    with pytest.raises(InstallError, match="ran out of space"):
        Installer(env.root).install(env.image("1.2.0"))
    assert snapshot(env.root) == before


def test_leftovers_of_an_interrupted_install_are_cleaned(env):
    Installer(env.root, env.public, "sim").install(env.image("1.0.0"))
    slots_dir = os.path.join(slots.base_dir(env.root), "slots")
    os.makedirs(os.path.join(slots_dir, ".staging-b", "firmware"))
    os.rename(os.path.join(slots_dir, "a"), os.path.join(slots_dir, ".old-a"))
    Installer(env.root).install(env.image("1.1.0"))
    assert sorted(os.listdir(slots_dir)) == ["a", "b"]
    assert slots.slot_version(_state(env.root), "a") == "1.0.0"
    assert os.path.isfile(os.path.join(slots_dir, "a", "manifest.json"))


def test_user_configuration_survives_updates(env):
    Installer(env.root, env.public, "sim").install(env.image("1.0.0"))
    config = os.path.join(env.root, "etc", "deskphone", "config.json")
    with open(config, "w") as fh:
        fh.write('{"account": {"user": "alice"}}\n')
    result = Installer(env.root).install(env.image("1.1.0"))
    assert not result["config_created"]
    assert "alice" in open(config).read()


def test_cli_install_reports_the_trial_and_refusals(env):
    first = run_fwimage("install", "--root", env.root, "--key", env.pub_file, "--board", "sim",
                        env.image("1.0.0"))
    assert first.returncode == 0 and "slot a" in first.stdout
    second = run_fwimage("install", "--root", env.root, env.image("1.1.0"))
    assert second.returncode == 0 and "on trial" in second.stdout
    assert "1.0.0" in second.stdout
    other = run_fwimage("install", "--root", env.root, "--board", "other", env.image("1.2.0"))
    assert other.returncode == 1 and "REFUSED" in other.stderr
    confirm = run_fwimage("confirm", "--root", env.root)
    assert confirm.returncode == 0 and "no trial pending" not in confirm.stdout
    assert _state(env.root)["trial"] is False


def test_a_failed_first_install_leaves_no_firmware_and_no_trust(env, monkeypatch):
    class Cramped(Installer):
        def open_file(self, path, mode):
            return _LimitedWriter(path, mode)

    base = slots.base_dir(env.root)
    _LimitedWriter.budget[0] = 1000
    with pytest.raises(InstallError, match="ran out of space"):
        Cramped(env.root, env.public, "sim").install(env.image("1.0.0"))

    def no_space(root, state):
        raise OSError(errno.ENOSPC, "No space left on device", "state.json")

    monkeypatch.setattr(slots, "write_state", no_space)
    with pytest.raises(InstallError, match="ran out of space"):
        Installer(env.root, env.public, "sim").install(env.image("1.0.0"))
    assert not os.path.exists(slots.state_path(env.root))
    assert not os.path.exists(os.path.join(base, "trusted.pub"))
    assert os.listdir(os.path.join(base, "slots")) == []
