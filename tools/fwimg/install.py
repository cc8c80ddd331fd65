"""Verified install of an image into the A/B slots under a root directory.

Rule: every check comes before the first write - the whole image against the
key the target trusts, then board, version, pending trial and free space.
Files are then written into a staging directory beside the slots while the
image is verified a second time (so an image changed in between is caught),
and the install commits with one atomic replacement of ``state.json``
followed by the ``current`` symlink switch. Any failure before the commit
removes the staging directory; the active slot, the state and the symlink are
never touched before it. The root is ``/`` on a running phone, the mount
point of a card's root filesystem, or any directory.
"""

import errno
import os
import shutil

from firmware.runtime import slots

from . import InstallError, keys
from .manifest import check_board_name, compare_versions
from .verify import verify_image

TRUSTED_KEY = "trusted.pub"
CONFIG_REL = "etc/deskphone/config.json"
UNIT_REL = "etc/systemd/system/deskphone.service"
WANTS_REL = "etc/systemd/system/multi-user.target.wants/deskphone.service"
UNIT_LINK_TARGET = "/etc/systemd/system/deskphone.service"
FS_BLOCK = 4096
SPACE_MARGIN = 256 * 1024
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


class FileWriter:
    """One file of the staging slot: written, fsynced, then given its mode."""

    def __init__(self, path, mode):
        self.mode = mode
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)

    def write(self, chunk):
        view = memoryview(chunk)
        while view:
            view = view[os.write(self.fd, view):]

    def close(self):
        try:
            os.fsync(self.fd)
            os.fchmod(self.fd, self.mode)
        finally:
            os.close(self.fd)
            self.fd = None

    def __del__(self):
        if getattr(self, "fd", None) is not None:
            os.close(self.fd)


def _round_up(size):
    return (size + FS_BLOCK - 1) // FS_BLOCK * FS_BLOCK


def _human(size):
    return "%.1f MiB" % (size / 1048576.0) if size >= 1048576 else "%d KiB" % (size // 1024)


def _existing_ancestor(path):
    path = os.path.abspath(path)
    while not os.path.exists(path):
        path = os.path.dirname(path)
    return path


def _remove(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _fsync_tree(top):
    for dirpath, _, _ in os.walk(top):
        fd = os.open(dirpath, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_error(exc, what):
    if exc.errno in _NO_SPACE:
        return InstallError("the target ran out of space while writing %s (%s); the partial "
                            "slot was removed and the installed firmware is untouched"
                            % (what, exc.strerror))
    if exc.errno == errno.EROFS:
        return InstallError("the target is read-only (%s); nothing was installed"
                            % exc.filename)
    return InstallError("cannot write %s: %s (%s); the installed firmware is untouched"
                        % (what, exc.strerror, exc.filename or ""))


class Installer:
    """Installs verified images under ``root``; one instance per target.

    Tests substitute ``disk_usage`` or ``open_file`` to simulate a full disk.
    """

    disk_usage = staticmethod(shutil.disk_usage)

    def __init__(self, root, public_key=None, board=None, allow_downgrade=False,
                 replace_trial=False, trial_seconds=None, trial_boots=None,
                 system_files=True):
        self.root = root
        self.public_key = public_key
        self.board = check_board_name(board) if board else None
        self.allow_downgrade = allow_downgrade
        self.replace_trial = replace_trial
        self.trial_seconds = trial_seconds
        self.trial_boots = trial_boots
        self.system_files = system_files
        self.base = slots.base_dir(root)

    def open_file(self, path, mode):
        return FileWriter(path, mode)

    # -- checks (nothing written) -------------------------------------------------

    def _state(self):
        if not os.path.isdir(self.root):
            raise InstallError("target root %s is not a directory" % self.root)
        try:
            return slots.read_state(self.root)
        except slots.SlotError as exc:
            raise InstallError("the target's state is unusable: %s" % exc) from None

    def _key(self):
        """The key to check against, and whether the target is to start trusting it."""
        path = os.path.join(self.base, TRUSTED_KEY)
        if os.path.exists(path):
            trusted = keys.load_public_key(path)
            if self.public_key is not None and not keys.same_key(trusted, self.public_key):
                raise InstallError(
                    "the target trusts signing key %s, not the given key %s; images for it "
                    "must be signed with its key (replacing %s is a deliberate manual step)"
                    % (keys.key_id(trusted), keys.key_id(self.public_key), path))
            return trusted, False
        if self.public_key is None:
            raise InstallError("the target trusts no signing key yet: pass --key "
                               "PUBLIC_KEY_FILE (or set %s)" % keys.ENV_PUBLIC)
        return self.public_key, True

    def _target_board(self, state):
        recorded = state.get("board") if state else None
        if self.board and recorded and self.board != recorded:
            raise InstallError("--board %s given, but the target is a %s board"
                               % (self.board, recorded))
        board = recorded or self.board
        if board is None:
            raise InstallError("the target has no firmware yet: say which board it is with "
                               "--board NAME")
        return board

    def _check(self, image, state, board):
        if image.board != board:
            raise InstallError("board mismatch: the image is for board %r, the target is a %r "
                               "board; nothing was written" % (image.board, board))
        active = state.get("active") if state else None
        if active is not None:
            installed = slots.slot_version(state, active)
            if installed and compare_versions(image.version, installed) < 0 \
                    and not self.allow_downgrade:
                raise InstallError("version %s is older than the installed %s: a downgrade "
                                   "needs --allow-downgrade" % (image.version, installed))
            if state.get("trial") and not self.replace_trial:
                raise InstallError(
                    "version %s is still on trial (not confirmed yet); let it confirm or roll "
                    "back first, or pass --replace-trial to overwrite it" % installed)

    def _check_space(self, image):
        need = sum(_round_up(e["size"]) for e in image.manifest["files"])
        need += _round_up(len(image.manifest_bytes)) + 2 * FS_BLOCK + SPACE_MARGIN
        probe = _existing_ancestor(os.path.join(self.base, "slots"))
        free = self.disk_usage(probe).free
        if free < need:
            raise InstallError("not enough space on the target: the image needs %s, %s is "
                               "free under %s; nothing was written"
                               % (_human(need), _human(free), probe))

    # -- writing ------------------------------------------------------------------

    def _recover_and_clean(self, slots_dir):
        """Undo what an interrupted install left beside the slots."""
        for name in slots.SLOT_NAMES:
            final = os.path.join(slots_dir, name)
            old = os.path.join(slots_dir, ".old-" + name)
            if os.path.isdir(old) and not os.path.exists(final):
                os.rename(old, final)
        for entry in os.listdir(slots_dir):
            if entry.startswith((".staging-", ".old-")):
                shutil.rmtree(os.path.join(slots_dir, entry), ignore_errors=True)

    def _sink(self, staging):
        def on_file(entry):
            path = os.path.join(staging, entry["path"])
            os.makedirs(os.path.dirname(path), exist_ok=True)
            return self.open_file(path, entry["mode"])
        return on_file

    def _write_small(self, path, data, mode):
        writer = self.open_file(path, mode)
        writer.write(data)
        writer.close()

    def _stage(self, image_path, key, first, staging):
        image = verify_image(image_path, key, on_file=self._sink(staging))
        if image.manifest_bytes != first.manifest_bytes:
            raise InstallError("the image file changed while it was being installed")
        self._write_small(os.path.join(staging, "manifest.json"), image.manifest_bytes, 0o644)
        self._write_small(os.path.join(staging, "manifest.sig"), image.signature, 0o644)
        _fsync_tree(staging)
        return image

    def _install_system_files(self, staging, key, new_trust):
        """Trusted key (first install), default config (if none), the systemd unit."""
        result = {"unit_changed": False, "config_created": False}
        if new_trust:
            slots.write_bytes_atomic(os.path.join(self.base, TRUSTED_KEY),
                                     keys.public_pem(key))
        if not self.system_files:
            return result
        config = os.path.join(self.root, CONFIG_REL)
        if not os.path.exists(config):
            os.makedirs(os.path.dirname(config), exist_ok=True)
            with open(os.path.join(staging, "config", "default-config.json"), "rb") as fh:
                slots.write_bytes_atomic(config, fh.read(), 0o600)
            result["config_created"] = True
        unit = os.path.join(self.root, UNIT_REL)
        with open(os.path.join(staging, "systemd", "deskphone.service"), "rb") as fh:
            wanted = fh.read()
        try:
            with open(unit, "rb") as fh:
                present = fh.read()
        except FileNotFoundError:
            present = None
        if present != wanted:
            os.makedirs(os.path.dirname(unit), exist_ok=True)
            slots.write_bytes_atomic(unit, wanted, 0o644)
            result["unit_changed"] = True
        wants = os.path.join(self.root, WANTS_REL)
        if not os.path.lexists(wants):
            os.makedirs(os.path.dirname(wants), exist_ok=True)
            os.symlink(UNIT_LINK_TARGET, wants)
        return result

    def _new_state(self, state, board, target, image):
        new = dict(state) if state else slots.new_state(board)
        new["board"] = board
        new["slots"] = dict(new.get("slots") or {})
        active = new.get("active")
        if not (new.get("trial") and active == target):
            new["previous"] = active
        new["slots"][target] = {"version": image.version, "key_id": image.signer}
        new["active"] = target
        new["trial"] = new["previous"] is not None
        new["boot_count"] = 0
        new["deadline"] = None
        if self.trial_seconds is not None:
            new["trial_seconds"] = self.trial_seconds
        if self.trial_boots is not None:
            new["trial_boots"] = self.trial_boots
        return new

    def install(self, image_path):
        """Install one image; return a dict describing what was done."""
        state = self._state()
        key, new_trust = self._key()
        first = verify_image(image_path, key)
        board = self._target_board(state)
        self._check(first, state, board)
        self._check_space(first)
        active = state.get("active") if state else None
        if active is not None and state.get("trial"):
            target = active
        else:
            target = slots.other_slot(active) if active else slots.SLOT_NAMES[0]
        slots_dir = os.path.join(self.base, "slots")
        final = os.path.join(slots_dir, target)
        old = os.path.join(slots_dir, ".old-" + target)
        staging = os.path.join(slots_dir, ".staging-" + target)
        moved_old = placed = False
        try:
            os.makedirs(slots_dir, exist_ok=True)
            self._recover_and_clean(slots_dir)
            os.mkdir(staging)
            image = self._stage(image_path, key, first, staging)
            extra = self._install_system_files(staging, key, new_trust)
            if os.path.exists(final):
                os.rename(final, old)
                moved_old = True
            os.rename(staging, final)
            placed = True
            new_state = self._new_state(state, board, target, image)
            slots.write_state(self.root, new_state)
        except BaseException as exc:
            self._undo(final, old, staging, moved_old, placed)
            if new_trust:
                # a target that installed nothing keeps trusting nothing
                _remove(os.path.join(self.base, TRUSTED_KEY))
            if isinstance(exc, OSError):
                raise _write_error(exc, "slot %s" % target) from None
            raise
        slots.switch_current(self.root, target)
        shutil.rmtree(old, ignore_errors=True)
        result = {
            "root": self.root, "slot": target, "board": board, "version": image.version,
            "previous_version": slots.slot_version(new_state, new_state["previous"])
            if new_state["previous"] else None,
            "trial": new_state["trial"], "trial_seconds": new_state["trial_seconds"],
            "key_id": image.signer, "trusted_new_key": new_trust,
        }
        result.update(extra)
        return result

    def _undo(self, final, old, staging, moved_old, placed):
        """Put the slot directory back as it was before this install touched it."""
        if placed:
            shutil.rmtree(final, ignore_errors=True)
        if moved_old and os.path.isdir(old):
            os.rename(old, final)
        shutil.rmtree(staging, ignore_errors=True)
