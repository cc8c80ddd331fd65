"""Reading an image: signature first, then every file, then nothing extra.

Rule: the order of checks is fixed and nothing downstream may act on an image
before ``verify_image`` has returned. The manifest signature is checked before
the manifest is believed; each file is hashed as it streams past and compared
with the signed SHA-256; the file list must match the manifest exactly and the
archive must end where the canonical form says. An installer may hand in an
``on_file`` sink to write files while they stream, but it only commits what it
wrote after this function returns without an exception.
"""

import hashlib
import json
import os

from . import ImageError, keys
from . import manifest as manifest_mod
from .container import (
    MANIFEST_NAME,
    MAX_MANIFEST_SIZE,
    SIGNATURE_NAME,
    SIGNATURE_SIZE,
    TarReader,
)


class VerifiedImage:
    """What a successful check returns: the parsed manifest and its exact bytes."""

    __slots__ = ("path", "manifest", "manifest_bytes", "signature", "signer")

    def __init__(self, path, manifest, manifest_bytes, signature, signer):
        self.path = path
        self.manifest = manifest
        self.manifest_bytes = manifest_bytes
        self.signature = signature
        self.signer = signer

    @property
    def board(self):
        return self.manifest["board"]

    @property
    def version(self):
        return self.manifest["version"]


def _open(path):
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise ImageError("cannot read %s: %s" % (path, exc.strerror)) from None
    size = os.fstat(fh.fileno()).st_size
    if size == 0:
        fh.close()
        raise ImageError("%s is empty" % path)
    return fh, size


def _read_head(reader):
    """Manifest bytes, signature (or None) and the header after them."""
    try:
        first = reader.next_header()
    except ImageError as exc:
        raise ImageError("not a firmware image (%s)" % exc) from None
    if first is None or first[0] != MANIFEST_NAME:
        raise ImageError("not a firmware image: it does not start with %s" % MANIFEST_NAME)
    if first[1] > MAX_MANIFEST_SIZE:
        raise ImageError("manifest is implausibly large (%d bytes)" % first[1])
    manifest_bytes = reader.read_data(first[1], MANIFEST_NAME)
    signature = None
    following = reader.next_header()
    if following is not None and following[0] == SIGNATURE_NAME:
        if following[1] != SIGNATURE_SIZE:
            raise ImageError("signature entry has %d bytes; an Ed25519 signature has %d"
                             % (following[1], SIGNATURE_SIZE))
        signature = reader.read_data(SIGNATURE_SIZE, SIGNATURE_NAME)
        following = reader.next_header()
    return manifest_bytes, signature, following


def _claimed_key_id(manifest_bytes):
    """The signer the (not yet trusted) manifest names, only to word the refusal."""
    try:
        value = json.loads(manifest_bytes.decode("utf-8")).get("key_id")
    except (UnicodeDecodeError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def check_signature(manifest_bytes, signature, public_key):
    if signature is None:
        raise ImageError("image is not signed (sign it with: fwimage sign --key PRIVATE_KEY "
                         "IMAGE)")
    if keys.signature_valid(public_key, manifest_bytes, signature):
        return
    trusted = keys.key_id(public_key)
    claimed = _claimed_key_id(manifest_bytes)
    if claimed and claimed != trusted:
        raise ImageError("signature check failed: the image names signing key %s but the "
                         "trusted key is %s (wrong key, or an altered manifest)"
                         % (claimed, trusted))
    raise ImageError("signature check failed with key %s: the manifest or its signature was "
                     "altered after signing" % trusted)


def read_manifest(path):
    """Manifest dict, its bytes and the signature, without checking anything else (``show``)."""
    fh, size = _open(path)
    with fh:
        manifest_bytes, signature, _ = _read_head(TarReader(fh, size))
    return manifest_mod.parse(manifest_bytes), manifest_bytes, signature


def verify_image(path, public_key, on_file=None, require_signature=True):
    """Check an image completely; return a ``VerifiedImage`` or raise ``ImageError``.

    ``public_key`` None with ``require_signature`` False checks structure and
    hashes only (used to re-sign). ``on_file(entry)`` may return an object with
    ``write(chunk)`` and ``close()``; ``close`` is called only for a file whose
    hash matched.
    """
    fh, size = _open(path)
    with fh:
        reader = TarReader(fh, size)
        manifest_bytes, signature, pending = _read_head(reader)
        signer = None
        if public_key is not None or require_signature:
            if public_key is None:
                raise ImageError("no public key to check the signature against")
            check_signature(manifest_bytes, signature, public_key)
            signer = keys.key_id(public_key)
        manifest = manifest_mod.parse(manifest_bytes)
        files = manifest["files"]
        remaining = set(entry["path"] for entry in files)
        for index, entry in enumerate(files):
            path_in = entry["path"]
            if pending is None:
                raise ImageError("file %s is missing: the image ends after %d of its %d files"
                                 % (path_in, index, len(files)))
            name, size_in, mode = pending
            if name != path_in:
                if name in remaining:
                    raise ImageError("file %s is missing from the image" % path_in)
                raise ImageError("image holds %s, which its manifest does not list" % name)
            if size_in != entry["size"]:
                raise ImageError("%s: %d bytes in the image, %d in the signed manifest"
                                 % (name, size_in, entry["size"]))
            if mode != entry["mode"]:
                raise ImageError("%s: mode %o in the image, %o in the signed manifest"
                                 % (name, mode, entry["mode"]))
            _check_file(reader, entry, on_file)
            remaining.discard(path_in)
            pending = reader.next_header()
        if pending is not None:
            raise ImageError("image holds %s, which its manifest does not list" % pending[0])
        reader.finish()
    return VerifiedImage(path, manifest, manifest_bytes, signature, signer)


def _check_file(reader, entry, on_file):
    digest = hashlib.sha256()
    sink = on_file(entry) if on_file is not None else None
    for chunk in reader.iter_data(entry["size"], entry["path"]):
        digest.update(chunk)
        if sink is not None:
            sink.write(chunk)
    if digest.hexdigest() != entry["sha256"]:
        raise ImageError("%s: SHA-256 does not match the signed manifest: the file was altered"
                         % entry["path"])
    if sink is not None:
        sink.close()


class _Collect:
    """A sink that keeps file contents in memory (re-signing small images)."""

    def __init__(self, store, entry):
        self.store = store
        self.entry = entry
        self.parts = []

    def write(self, chunk):
        self.parts.append(chunk)

    def close(self):
        self.store.append((self.entry["path"], b"".join(self.parts), self.entry["mode"]))


def load_files(path):
    """``(manifest, [(path, data, mode)])`` of an internally consistent image, signed or not."""
    store = []
    image = verify_image(path, None, on_file=lambda entry: _Collect(store, entry),
                         require_signature=False)
    return image.manifest, store
