# cpython-only: symlinks, fsync and os.replace; the boot supervisor runs on the board's CPython
"""A/B firmware slots on the phone's filesystem, and the trial boot that keeps a phone alive.

Rule: ``state.json`` is the single source of truth and is only ever replaced
whole (temp file, fsync, ``os.replace``); the ``current`` symlink follows it and
is switched the same way. A newly installed slot boots *on trial*: each start
of a trial counts a boot, and once a trial boot has happened without
``confirm`` (or its deadline has passed) the next ``begin_boot`` switches back
to the previous slot. Nothing here imports the rest of the firmware, so a
broken new slot cannot break the code that rolls it back.

Layout under the target root (``/`` on the phone, a mount point or a plain
directory on a laptop)::

    opt/deskphone/slots/a/       one installed image each (manifest.json inside)
    opt/deskphone/slots/b/
    opt/deskphone/current  ->    slots/<active>
    opt/deskphone/state.json     {"active", "previous", "trial", "boot_count", ...}
    opt/deskphone/trusted.pub    the Ed25519 key images must be signed with
"""

import json
import os

PREFIX = "opt/deskphone"
SLOT_NAMES = ("a", "b")
STATE_FORMAT = 1
DEFAULT_TRIAL_SECONDS = 300
DEFAULT_TRIAL_BOOTS = 1


class SlotError(Exception):
    """The target holds no bootable firmware, or its state file is unusable."""


def base_dir(root):
    return os.path.join(root, PREFIX)


def state_path(root):
    return os.path.join(base_dir(root), "state.json")


def slot_dir(root, name):
    if name not in SLOT_NAMES:
        raise SlotError("no such slot: %r" % (name,))
    return os.path.join(base_dir(root), "slots", name)


def current_link(root):
    return os.path.join(base_dir(root), "current")


def other_slot(name):
    return SLOT_NAMES[1] if name == SLOT_NAMES[0] else SLOT_NAMES[0]


def new_state(board):
    """The state of a target that has never had firmware installed."""
    return {
        "format": STATE_FORMAT,
        "board": board,
        "active": None,
        "previous": None,
        "trial": False,
        "boot_count": 0,
        "deadline": None,
        "trial_seconds": DEFAULT_TRIAL_SECONDS,
        "trial_boots": DEFAULT_TRIAL_BOOTS,
        "slots": {},
        "last_failure": None,
    }


def read_state(root):
    """The target's state as a dict, or None when nothing was ever installed."""
    path = state_path(root)
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        return None
    try:
        state = json.loads(raw.decode("utf-8"))
    except ValueError as exc:
        raise SlotError("%s is not valid JSON (%s)" % (path, exc)) from None
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise SlotError("%s: unknown state format" % path)
    if state.get("active") not in SLOT_NAMES + (None,):
        raise SlotError("%s: active slot %r is not one of a, b" % (path, state.get("active")))
    return state


def _fsync_dir(path):
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_bytes_atomic(path, data, mode=0o644):
    """Replace ``path`` by ``data`` so that a crash leaves either the old or the new file."""
    directory = os.path.dirname(path)
    tmp = os.path.join(directory, ".%s.tmp-%d" % (os.path.basename(path), os.getpid()))
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(directory)


def write_state(root, state):
    os.makedirs(base_dir(root), exist_ok=True)
    data = (json.dumps(state, sort_keys=True, indent=1) + "\n").encode("utf-8")
    write_bytes_atomic(state_path(root), data)


def switch_current(root, name):
    """Point ``current`` at slot ``name`` atomically (a new symlink renamed over the old)."""
    link = current_link(root)
    target = os.path.join("slots", name)
    try:
        if os.readlink(link) == target:
            return
    except OSError:
        pass
    tmp = link + ".tmp-%d" % os.getpid()
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass
    os.symlink(target, tmp)
    os.replace(tmp, link)
    _fsync_dir(os.path.dirname(link))


def slot_version(state, name):
    info = state.get("slots", {}).get(name) or {}
    return info.get("version")


def _slot_usable(root, state, name):
    return (name in SLOT_NAMES and slot_version(state, name) is not None
            and os.path.isfile(os.path.join(slot_dir(root, name), "manifest.json")))


def _decision(root, state, rolled_back, reason):
    active = state["active"]
    return {
        "slot": active,
        "path": slot_dir(root, active),
        "version": slot_version(state, active),
        "board": state.get("board"),
        "trial": bool(state.get("trial")),
        "deadline": state.get("deadline"),
        "rolled_back": rolled_back,
        "reason": reason,
    }


def trial_expired(state, now):
    """Why the pending trial must end in a rollback, or None while it may go on."""
    if not state.get("trial"):
        return None
    boots = state.get("boot_count", 0)
    if boots >= state.get("trial_boots", DEFAULT_TRIAL_BOOTS):
        return ("version %s was started %d time(s) on trial and never confirmed"
                % (slot_version(state, state["active"]), boots))
    deadline = state.get("deadline")
    if deadline is not None and now >= deadline:
        return ("version %s did not confirm before its trial deadline"
                % slot_version(state, state["active"]))
    return None


def begin_boot(root, now):
    """Decide which slot this start runs, rolling back a failed trial first.

    Called once per start of the phone service, before any firmware code of
    the slot is imported. ``now`` is wall-clock seconds (time.time()). Returns
    a dict: slot, path, version, board, trial, deadline, rolled_back, reason.
    """
    state = read_state(root)
    if state is None or state.get("active") is None:
        raise SlotError("no firmware installed under %s" % base_dir(root))
    rolled_back = False
    reason = trial_expired(state, now)
    if reason is None and state.get("trial") and not _slot_usable(root, state, state["active"]):
        reason = "the files of trial slot %s are missing" % state["active"]
    if reason is not None:
        failed = state["active"]
        previous = state.get("previous")
        state["last_failure"] = {"slot": failed, "version": slot_version(state, failed),
                                 "reason": reason, "time": now}
        state["trial"] = False
        state["boot_count"] = 0
        state["deadline"] = None
        if previous is not None and previous != failed and _slot_usable(root, state, previous):
            state["active"] = previous
            state["previous"] = None
            rolled_back = True
            reason = "rolled back to version %s: %s" % (slot_version(state, previous), reason)
        else:
            reason = "no previous slot to roll back to; keeping version %s: %s" % (
                slot_version(state, failed), reason)
        write_state(root, state)
    elif state.get("trial"):
        state["boot_count"] = state.get("boot_count", 0) + 1
        if state.get("deadline") is None:
            state["deadline"] = now + state.get("trial_seconds", DEFAULT_TRIAL_SECONDS)
        write_state(root, state)
        reason = "trial boot %d of version %s" % (state["boot_count"],
                                                  slot_version(state, state["active"]))
    else:
        reason = "version %s (confirmed)" % slot_version(state, state["active"])
    switch_current(root, state["active"])
    return _decision(root, state, rolled_back, reason)


def confirm(root):
    """Mark the running trial slot good (the phone registered). True if a trial ended here."""
    state = read_state(root)
    if state is None or not state.get("trial"):
        return False
    state["trial"] = False
    state["boot_count"] = 0
    state["deadline"] = None
    write_state(root, state)
    return True


def is_trial(root):
    state = read_state(root)
    return bool(state and state.get("trial"))


def confirm_from_environment():
    """For the running firmware: confirm the trial the boot supervisor started, if any.

    The supervisor passes DESKPHONE_ROOT and DESKPHONE_TRIAL=1 to the firmware
    process; without them this does nothing and returns False.
    """
    if os.environ.get("DESKPHONE_TRIAL") != "1":
        return False
    return confirm(os.environ.get("DESKPHONE_ROOT", "/"))
