"""Small files that must survive a crash or a power cut: the call log and the like.

Rule: a file is never written in place. ``write_atomic`` writes the new
content to ``<name>.tmp`` in the same directory, flushes and fsyncs it, and
renames it over the file (``os.replace``: atomic on POSIX), then fsyncs the
directory so the rename itself is on disk. A reader therefore sees the old
or the new content, complete, never a mixture. Before the rename the current
file, if it is good, becomes ``<name>.prev`` (a hard link, or a copy where
links do not exist), and ``read_good`` falls back to that previous good copy
when the file is missing, unreadable or fails the caller's ``check`` (a
storage medium that loses the last write, a file edited by hand).

Runs on CPython and on MicroPython's unix port (which has no fsync, link or
replace: it renames, and flushes only).
"""

import os

TMP_SUFFIX = ".tmp"
PREV_SUFFIX = ".prev"


def _directory(path):
    cut = path.rfind("/")
    if cut < 0:
        return "."
    return path[:cut] or "/"


def _exists(path):
    try:
        os.stat(path)
    except OSError:
        return False
    return True


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


def _rename_over(source, target):
    if hasattr(os, "replace"):
        os.replace(source, target)
    else:
        os.rename(source, target)  # POSIX rename() replaces atomically too


def _sync_file(handle):
    handle.flush()
    if hasattr(os, "fsync"):
        os.fsync(handle.fileno())


def sync_directory(path):
    """Make a rename inside ``path`` durable (where the platform allows it)."""
    try:
        open_fd, fsync, close, read_only = os.open, os.fsync, os.close, os.O_RDONLY
    except AttributeError:
        return  # MicroPython's os has no file descriptors to sync
    try:
        fd = open_fd(path, read_only)
    except OSError:
        return
    try:
        fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on a directory; the rename still happened
    finally:
        close(fd)


def _read(path, binary):
    with open(path, "rb" if binary else "r") as handle:
        return handle.read()


def _good(path, check, binary):
    """The content of ``path`` if it reads and passes ``check``, else None."""
    try:
        data = _read(path, binary)
    except (OSError, ValueError):  # ValueError: not valid UTF-8 in text mode
        return None
    if check is not None:
        try:
            if check(data) is False:
                return None
        except (ValueError, TypeError, KeyError, IndexError):
            return None
    return data


def _write_file(path, data):
    with open(path, "wb" if isinstance(data, (bytes, bytearray)) else "w") as handle:
        handle.write(data)
        _sync_file(handle)


def _keep_previous(path, check, binary):
    """Make the current file, if good, the previous good copy."""
    if _good(path, check, binary) is None:
        return
    prev = path + PREV_SUFFIX
    staging = prev + TMP_SUFFIX
    _remove(staging)
    if hasattr(os, "link"):
        try:
            os.link(path, staging)
        except OSError:
            _write_file(staging, _read(path, True))
    else:
        _write_file(staging, _read(path, True))
    _rename_over(staging, prev)


def write_atomic(path, data, keep_previous=True, check=None):
    """Replace the file at ``path`` with ``data`` (str or bytes), atomically and
    durably. With ``keep_previous``, the file being replaced is kept as
    ``path + ".prev"`` if it passes ``check`` (a function of its text that
    returns False or raises ValueError when the content is bad)."""
    directory = _directory(path)
    tmp = path + TMP_SUFFIX
    _write_file(tmp, data)
    if keep_previous and _exists(path):
        _keep_previous(path, check, isinstance(data, (bytes, bytearray)))
    _rename_over(tmp, path)
    sync_directory(directory)


def read_good(path, check=None, binary=False):
    """(content, where) for the file at ``path``: ``where`` is "current", or
    "previous" when the file was missing or bad and the previous good copy
    was used; (None, None) when neither is usable. ``check`` as for
    ``write_atomic``."""
    data = _good(path, check, binary)
    if data is not None:
        return data, "current"
    data = _good(path + PREV_SUFFIX, check, binary)
    if data is not None:
        return data, "previous"
    return None, None


def read_text(path, check=None):
    """The good text at ``path`` (falling back to the previous copy) or None."""
    return read_good(path, check)[0]


def discard(path):
    """Remove the file and its previous copy and any left-over temporary file."""
    for name in (path, path + PREV_SUFFIX, path + TMP_SUFFIX, path + PREV_SUFFIX + TMP_SUFFIX):
        _remove(name)
