"""Shared helpers for the firmware-image tests: keys, board files, source trees, snapshots.

Rule: everything lives under the test's tmp_path; the "board" is a directory
tree standing for the phone's root filesystem, and no test touches the real
/opt, /etc or any network host.
"""

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile

PROJECT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FWIMAGE = os.path.join(PROJECT, "tools", "fwimage")
sys.path.insert(0, PROJECT)

from tools.fwimg import build, keys  # noqa: E402

FAKE_MAIN = '''"""Stand-in firmware for boot tests (behaviour BEHAVIOUR)."""
import os
import sys
import time

import firmware

with open(os.environ["FAKE_FIRMWARE_LOG"], "a") as log:
    log.write("started %s trial=%s args=%s\\n" % (
        firmware.__version__, os.environ.get("DESKPHONE_TRIAL"), " ".join(sys.argv[1:])))
behaviour = "BEHAVIOUR"
if behaviour == "confirm":
    from firmware.runtime import slots
    slots.confirm_from_environment()
elif behaviour == "hang":
    time.sleep(120)
elif behaviour == "slow":
    time.sleep(1.5)
elif behaviour == "crash":
    sys.exit(2)
'''


def run_fwimage(*args, env=None, check=False):
    full_env = dict(os.environ)
    for name in (keys.ENV_PRIVATE, keys.ENV_PUBLIC, keys.ENV_PASSPHRASE):
        full_env.pop(name, None)
    full_env.update(env or {})
    proc = subprocess.run([sys.executable, FWIMAGE] + [str(a) for a in args],
                          capture_output=True, text=True, env=full_env)
    if check and proc.returncode != 0:
        raise AssertionError("fwimage %s failed: %s%s" % (args, proc.stdout, proc.stderr))
    return proc


def make_keys(directory):
    key_path, pub_path = keys.generate_keypair(str(directory))
    return key_path, pub_path


def board_file(directory, name="sim", extra=None):
    directory = str(directory)
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, name + ".json")
    data = {"name": name, "backend": "sim"}
    data.update(extra or {})
    with open(path, "w") as fh:
        json.dump(data, fh, sort_keys=True)
    return path


def make_source(directory, version="1.0.0", behaviour="confirm"):
    """A small project tree: a stand-in firmware plus the real slots, deploy and tools."""
    src = str(directory)
    fw = os.path.join(src, "firmware")
    for sub in ("runtime", "core"):
        os.makedirs(os.path.join(fw, sub))
    with open(os.path.join(fw, "__init__.py"), "w") as fh:
        fh.write('"""Stand-in firmware."""\n\n__version__ = "%s"\n' % version)
    with open(os.path.join(fw, "__main__.py"), "w") as fh:
        fh.write(FAKE_MAIN.replace("BEHAVIOUR", behaviour))
    with open(os.path.join(fw, "runtime", "__init__.py"), "w") as fh:
        fh.write('"""runtime."""\n')
    shutil.copy(os.path.join(PROJECT, "firmware", "runtime", "slots.py"),
                os.path.join(fw, "runtime", "slots.py"))
    with open(os.path.join(fw, "core", "__init__.py"), "w") as fh:
        fh.write('"""core."""\n')
    with open(os.path.join(fw, "core", "adder.py"), "w") as fh:
        fh.write('"""A MicroPython-clean module."""\n\n\ndef add(a, b):\n    return a + b\n')
    shutil.copytree(os.path.join(PROJECT, "deploy"), os.path.join(src, "deploy"))
    os.makedirs(os.path.join(src, "requirements"))
    shutil.copy(os.path.join(PROJECT, "requirements", "device.txt"),
                os.path.join(src, "requirements", "device.txt"))
    os.makedirs(os.path.join(src, "tools"))
    shutil.copy(FWIMAGE, os.path.join(src, "tools", "fwimage"))
    shutil.copytree(os.path.join(PROJECT, "tools", "fwimg"), os.path.join(src, "tools", "fwimg"),
                    ignore=shutil.ignore_patterns("__pycache__"))
    return src


def build_image(tmp_path, name, version="1.0.0", board="sim", behaviour="confirm",
                private_key_file=None, board_path=None):
    """Build a stand-in image; returns its path. ``name`` keeps trees apart."""
    src = make_source(tmp_path / ("src-" + name), version, behaviour)
    board_path = board_path or board_file(tmp_path / ("boards-" + name), board)
    private = keys.load_private_key(private_key_file) if private_key_file else None
    path, _ = build.build_image(src, board_path, str(tmp_path / ("out-" + name)), private)
    return path


def sha256_file(path):
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def snapshot(root):
    """Every path under ``root`` with its content hash, mode or link target."""
    result = {}
    for dirpath, dirnames, filenames in os.walk(str(root)):
        for name in sorted(dirnames + filenames):
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, str(root))
            if os.path.islink(full):
                result[rel] = ("link", os.readlink(full))
            elif os.path.isdir(full):
                result[rel] = ("dir",)
            else:
                result[rel] = ("file", sha256_file(full), os.stat(full).st_mode & 0o7777)
    return result


def members(image_path):
    """(name, header offset, data offset, size) of each tar entry, in order."""
    with tarfile.open(image_path) as tar:
        return [(m.name, m.offset, m.offset_data, m.size) for m in tar.getmembers()]


def flip_byte(source, target, offset):
    with open(source, "rb") as fh:
        data = bytearray(fh.read())
    data[offset] ^= 0x01
    with open(target, "wb") as fh:
        fh.write(bytes(data))
    return target
