"""The signed manifest: what an image holds, for which board, at which version.

Rule: the manifest is canonical JSON (sorted keys, fixed indentation, one
trailing newline) and the signature covers exactly its bytes. ``parse``
accepts only a manifest this installer fully understands: a known format, a
board and version, and a sorted list of safe relative paths with their size,
SHA-256 and mode. Everything about an image is decided from a parsed manifest,
never from the tar headers.
"""

import json

from . import ImageError
from .container import MANIFEST_NAME, MODES, SIGNATURE_NAME, sha256_hex

FORMAT = 1
PRODUCT = "deskphone"
MAX_FILES = 20000
MAX_FILE_SIZE = 256 << 20
_NAME_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-_."
_PATH_CHARS = _NAME_CHARS + "ABCDEFGHIJKLMNOPQRSTUVWXYZ/+@"
_HEX = "0123456789abcdef"


def check_board_name(name):
    if not name or len(name) > 64 or any(ch not in _NAME_CHARS for ch in name) \
            or name[0] in "-.":
        raise ImageError("board name %r: use lower-case letters, digits, '-', '_' and '.'"
                         % (name,))
    return name


def check_path(path):
    """A relative path that cannot leave the slot directory."""
    if not isinstance(path, str) or not path or len(path) > 240:
        raise ImageError("bad path in manifest: %r" % (path,))
    if any(ch not in _PATH_CHARS for ch in path) or path.startswith("/"):
        raise ImageError("bad path in manifest: %r" % (path,))
    for part in path.split("/"):
        if part in ("", ".", "..") or part.startswith(".tmp"):
            raise ImageError("bad path in manifest: %r" % (path,))
    if path in (MANIFEST_NAME, SIGNATURE_NAME):
        raise ImageError("reserved name used as a file: %r" % (path,))
    return path


def make_manifest(board, version, files, key_id=None, precompiled=False):
    """``files``: (path, data, mode) tuples. Returns the manifest dict."""
    entries = []
    for path, data, mode in sorted(files):
        entries.append({"path": path, "size": len(data), "mode": mode,
                        "sha256": sha256_hex(data)})
    manifest = {
        "format": FORMAT,
        "product": PRODUCT,
        "board": board,
        "version": version,
        "precompiled": bool(precompiled),
        "key_id": key_id,
        "size": sum(e["size"] for e in entries),
        "files": entries,
    }
    return validate(manifest)


def encode(manifest):
    return (json.dumps(manifest, sort_keys=True, indent=1, ensure_ascii=True) + "\n").encode()


def parse(data):
    """The manifest dict from its bytes, refusing anything malformed."""
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ImageError("manifest is not valid JSON (%s)" % exc) from None
    return validate(manifest)


def validate(manifest):
    if not isinstance(manifest, dict):
        raise ImageError("manifest is not a JSON object")
    fmt = manifest.get("format")
    if fmt != FORMAT:
        raise ImageError("image format %r is not supported by this installer (it reads format "
                         "%d); update the installer first" % (fmt, FORMAT))
    if manifest.get("product") != PRODUCT:
        raise ImageError("not a %s firmware image (product %r)" % (PRODUCT,
                                                                   manifest.get("product")))
    board = manifest.get("board")
    if not isinstance(board, str):
        raise ImageError("manifest has no board name")
    check_board_name(board)
    version = manifest.get("version")
    if not isinstance(version, str) or not version or len(version) > 64:
        raise ImageError("manifest has no usable version")
    files = manifest.get("files")
    if not isinstance(files, list) or len(files) > MAX_FILES:
        raise ImageError("manifest has no usable file list")
    previous = None
    total = 0
    for entry in files:
        if not isinstance(entry, dict) or sorted(entry) != ["mode", "path", "sha256", "size"]:
            raise ImageError("manifest file entry malformed: %r" % (entry,))
        path = check_path(entry["path"])
        if previous is not None and path <= previous:
            raise ImageError("manifest file list is not sorted or repeats %r" % path)
        previous = path
        size = entry["size"]
        if not isinstance(size, int) or isinstance(size, bool) or not 0 <= size <= MAX_FILE_SIZE:
            raise ImageError("%s: bad size in manifest" % path)
        digest = entry["sha256"]
        if not isinstance(digest, str) or len(digest) != 64 or any(c not in _HEX for c in digest):
            raise ImageError("%s: bad sha256 in manifest" % path)
        if entry["mode"] not in MODES:
            raise ImageError("%s: bad mode in manifest" % path)
        total += size
    if manifest.get("size") != total:
        raise ImageError("manifest size %r does not add up to its files (%d)"
                         % (manifest.get("size"), total))
    key = manifest.get("key_id")
    if key is not None and not isinstance(key, str):
        raise ImageError("manifest key_id malformed")
    return manifest


def version_key(version):
    """Order versions like 0.9.2 < 0.10.0 < 0.10.0.1; a non-numeric part sorts by text."""
    key = []
    for part in version.replace("-", ".").replace("+", ".").split("."):
        digits = ""
        for ch in part:
            if not ch.isdigit():
                break
            digits += ch
        key.append((int(digits) if digits else -1, part[len(digits):]))
    return key


def compare_versions(a, b):
    """-1, 0 or 1 as version ``a`` is older than, equal to or newer than ``b``."""
    ka, kb = version_key(a), version_key(b)
    return (ka > kb) - (ka < kb)
