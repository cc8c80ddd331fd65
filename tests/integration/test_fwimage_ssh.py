"""Install over SSH, with a stand-in ``ssh`` on PATH that runs the remote command locally.

No host is ever contacted: the fake records its arguments and executes the
command with ``sh -c`` against a temporary board root, which is exactly what
the phone's shell would do with it.
"""

import os
import shlex
import subprocess
import sys

import pytest

from fwimage_support import build_image, flip_byte, make_keys, members, run_fwimage, snapshot

from firmware.runtime import slots
from tools.fwimg import InstallError, keys
from tools.fwimg.install import Installer
from tools.fwimg.remote import remote_script, ssh_command

FAKE_SSH = """#!/bin/sh
# stand-in for ssh: record the call, skip options and destination, run the command here
printf 'argv:' >> "$FAKE_SSH_LOG"
for arg in "$@"; do printf ' [%s]' "$arg" >> "$FAKE_SSH_LOG"; done
printf '\\n' >> "$FAKE_SSH_LOG"
while [ $# -gt 0 ]; do
  case "$1" in
    -o|-p|-i|-l|-F|-J) shift 2 ;;
    -*) shift ;;
    *) break ;;
  esac
done
shift
exec sh -c "$*"
"""


@pytest.fixture
def phone(tmp_path):
    key, pub = make_keys(tmp_path / "keys")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "ssh"
    fake.write_text(FAKE_SSH)
    fake.chmod(0o755)
    root = tmp_path / "phone-root"
    root.mkdir()
    upload = tmp_path / "phone-tmp"
    upload.mkdir()
    log = tmp_path / "ssh.log"

    class Phone:
        pass

    p = Phone()
    p.root, p.upload, p.log, p.key, p.pub = str(root), str(upload), log, key, pub
    p.image = lambda version, signer=key: build_image(tmp_path, "%s-%s" % (
        version, os.path.basename(os.path.dirname(signer))), version, private_key_file=signer)

    def ssh_install(image, *extra):
        env = {"PATH": str(bindir) + os.pathsep + os.environ["PATH"],
               "FAKE_SSH_LOG": str(log)}
        return run_fwimage("install", "--ssh", "admin@phone.invalid",
                           "--ssh-option", "Port=2222", "--remote-root", p.root,
                           "--remote-python", sys.executable, "--remote-tmp", p.upload,
                           *(list(extra) + [image]), env=env)

    p.ssh_install = ssh_install
    return p


def _prepare_card(phone):
    Installer(phone.root, keys.load_public_key(phone.pub), "sim").install(phone.image("1.0.0"))


def test_update_over_ssh_runs_the_phones_own_installer(phone):
    _prepare_card(phone)
    proc = phone.ssh_install(phone.image("1.1.0"))
    assert proc.returncode == 0, proc.stderr
    assert "installed deskphone 1.1.0" in proc.stdout and "on trial" in proc.stdout
    state = slots.read_state(phone.root)
    assert state["active"] == "b" and state["trial"] and state["previous"] == "a"
    calls = phone.log.read_text()
    assert calls.count("argv:") == 1
    assert calls.startswith("argv: [-o] [Port=2222] [admin@phone.invalid] [sh -c ")
    assert os.path.join(phone.root, "opt/deskphone/current/tools/fwimage") in calls
    assert os.listdir(phone.upload) == []


def test_a_damaged_image_is_refused_before_anything_is_sent(phone, tmp_path):
    _prepare_card(phone)
    image = phone.image("1.1.0")
    name, _, data_at, size = members(image)[-1]
    bad = flip_byte(image, str(tmp_path / "bad.tar"), data_at + size // 2)
    proc = phone.ssh_install(bad)
    assert proc.returncode == 1 and name in proc.stderr
    assert not phone.log.exists()
    proc = phone.ssh_install(image, "--key", phone.pub)
    assert proc.returncode == 0, proc.stderr


def test_the_phone_refuses_an_image_signed_by_another_key(phone, tmp_path):
    _prepare_card(phone)
    before = snapshot(phone.root)
    other_key, _ = make_keys(tmp_path / "other")
    foreign = phone.image("1.1.0", signer=other_key)
    proc = phone.ssh_install(foreign)
    assert proc.returncode == 1
    assert "trusted key is" in proc.stderr and "phone refused" in proc.stderr
    assert snapshot(phone.root) == before
    assert os.listdir(phone.upload) == []


def test_the_phone_refuses_a_downgrade_unless_asked(phone):
    _prepare_card(phone)
    Installer(phone.root).install(phone.image("1.2.0"))
    slots.confirm(phone.root)
    older = phone.image("1.1.0")
    refused = phone.ssh_install(older)
    assert refused.returncode == 1 and "--allow-downgrade" in refused.stderr
    allowed = phone.ssh_install(older, "--allow-downgrade")
    assert allowed.returncode == 0, allowed.stderr
    assert slots.read_state(phone.root)["slots"]["a"]["version"] == "1.1.0"


def test_a_phone_without_firmware_says_how_to_start(phone):
    proc = phone.ssh_install(phone.image("1.0.0"))
    assert proc.returncode == 1
    assert "no installed firmware" in proc.stderr and "install --root" in proc.stderr


def test_ssh_command_construction():
    script = remote_script("img.tar", "/mnt/my card", None, "/var/tmp",
                           ["--board", "sim", "--allow-downgrade"], restart=True, sudo=True)
    argv = ssh_command("root@10.0.0.7", script, ["Port=2222", "BatchMode=yes"])
    assert argv[:6] == ["ssh", "-o", "Port=2222", "-o", "BatchMode=yes", "root@10.0.0.7"]
    assert len(argv) == 7 and argv[6].startswith("sh -c ")
    assert shlex.split(argv[6])[2] == script
    assert "installer='/mnt/my card/opt/deskphone/current/tools/fwimage'" in script
    assert "'/mnt/my card/opt/deskphone/venv/bin/python'" in script
    assert 'sudo "$py" "$installer" install --root \'/mnt/my card\' --board sim ' \
        '--allow-downgrade "$tmp"' in script
    assert "sudo systemctl restart deskphone.service" in script
    syntax = subprocess.run(["sh", "-n", "-c", script], capture_output=True)
    assert syntax.returncode == 0, syntax.stderr
    with pytest.raises(InstallError):
        ssh_command("-oProxyCommand=evil", script)
