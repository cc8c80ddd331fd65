"""The image file: a canonical POSIX (ustar) tar, written and read byte for byte.

Rule: an image has exactly one valid byte sequence for its contents. Entries
come in a fixed order (``manifest.json``, ``manifest.sig``, then the files in
manifest order), every header field is fixed (mtime 0, uid/gid 0, owner
root, mode 0644 or 0755), padding is zeros and the archive ends with two zero
blocks padded to a 10 KiB record. The reader rebuilds each header it expects
and compares, so a changed byte anywhere - header, data, padding, trailer -
is refused, and so is a missing or extra byte. ``tar tf`` still lists it.
"""

import hashlib

from . import ImageError

BLOCK = 512
RECORD = 20 * BLOCK
MANIFEST_NAME = "manifest.json"
SIGNATURE_NAME = "manifest.sig"
MAX_MANIFEST_SIZE = 1 << 20
SIGNATURE_SIZE = 64
CHUNK = 64 * 1024
MODES = (0o644, 0o755)
_ZERO_BLOCK = bytes(BLOCK)


def _octal(value, width):
    return ("%0*o" % (width - 1, value)).encode("ascii") + b"\0"


def _field(text, width):
    raw = text.encode("utf-8")
    if len(raw) > width:
        raise ImageError("tar field too long: %r" % text)
    return raw + bytes(width - len(raw))


def _split_name(name):
    """ustar keeps up to 100 bytes in ``name`` and 155 more in ``prefix``, split at a slash."""
    if len(name.encode("utf-8")) <= 100:
        return "", name
    parts = name.split("/")
    for cut in range(1, len(parts)):
        prefix, short = "/".join(parts[:cut]), "/".join(parts[cut:])
        if len(prefix.encode("utf-8")) <= 155 and len(short.encode("utf-8")) <= 100:
            return prefix, short
    raise ImageError("path too long for the image format: %s" % name)


def tar_header(name, size, mode):
    """The one header block this format allows for a regular file."""
    if mode not in MODES:
        raise ImageError("%s: mode %o is not 644 or 755" % (name, mode))
    prefix, short = _split_name(name)
    head = b"".join([
        _field(short, 100), _octal(mode, 8), _octal(0, 8), _octal(0, 8),
        _octal(size, 12), _octal(0, 12),
    ])
    tail = b"".join([
        b"0", bytes(100), b"ustar\0", b"00", _field("root", 32), _field("root", 32),
        _octal(0, 8), _octal(0, 8), _field(prefix, 155), bytes(12),
    ])
    checksum = sum(head) + sum(tail) + 8 * 0x20
    block = head + ("%06o" % checksum).encode("ascii") + b"\0 " + tail
    assert len(block) == BLOCK
    return block


def _padding(size):
    return bytes(-size % BLOCK)


def encode_image(entries):
    """Bytes of an image from ``(name, data, mode)`` entries, in the order given."""
    out = []
    length = 0
    for name, data, mode in entries:
        piece = tar_header(name, len(data), mode) + data + _padding(len(data))
        out.append(piece)
        length += len(piece)
    trailer = 2 * BLOCK
    trailer += -(length + trailer) % RECORD
    out.append(bytes(trailer))
    return b"".join(out)


class TarReader:
    """Reads a canonical image sequentially, refusing anything off the canonical form."""

    def __init__(self, fh, total_size):
        self.fh = fh
        self.total = total_size
        self.offset = 0

    def _read(self, size, what):
        data = self.fh.read(size)
        if len(data) != size:
            raise ImageError("image is truncated: it ends at byte %d, inside %s"
                             % (self.offset + len(data), what))
        self.offset += size
        return data

    def next_header(self):
        """``(name, size, mode)`` of the next entry, or None at the end-of-archive block."""
        at = self.offset
        block = self._read(BLOCK, "an entry header at byte %d" % at)
        if block == _ZERO_BLOCK:
            return None
        try:
            short = block[0:100].rstrip(b"\0").decode("utf-8")
            prefix = block[345:500].rstrip(b"\0").decode("utf-8")
            mode = int(block[100:107].decode("ascii"), 8)
            size = int(block[124:135].decode("ascii"), 8)
        except ValueError:
            raise ImageError("image is damaged: unreadable entry header at byte %d" % at) from None
        name = prefix + "/" + short if prefix else short
        try:
            expected = tar_header(name, size, mode)
        except ImageError:
            expected = None
        if block != expected:
            raise ImageError("image is damaged or altered: the header of %r at byte %d is not "
                             "the canonical one" % (name, at))
        return name, size, mode

    def iter_data(self, size, name):
        """Yield the data of an entry in chunks, then check its zero padding."""
        left = size
        while left:
            chunk = self._read(min(CHUNK, left), "%s (%d of %d bytes read)"
                               % (name, size - left, size))
            left -= len(chunk)
            yield chunk
        pad = _padding(size)
        if pad and self._read(len(pad), "the padding after %s" % name) != pad:
            raise ImageError("image is altered: non-zero padding after %s" % name)

    def read_data(self, size, name):
        return b"".join(self.iter_data(size, name))

    def finish(self):
        """After the first end block: the second one, record padding, and nothing more."""
        at = self.offset
        if self._read(BLOCK, "the end-of-archive marker") != _ZERO_BLOCK:
            raise ImageError("image is altered: unexpected data at byte %d after the last file"
                             % at)
        rest = -self.offset % RECORD
        if rest and self._read(rest, "the end-of-archive padding") != bytes(rest):
            raise ImageError("image is altered: non-zero bytes in the end-of-archive padding")
        extra = self.fh.read(1)
        if extra:
            raise ImageError("image has extra bytes after its end (byte %d on): appended data "
                             "or a concatenated file" % self.offset)


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()
