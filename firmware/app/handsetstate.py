"""The handset's state: its modes, and its lines (each call as the handset sees it).

Rule: a mode says what the person at the phone is doing; a line's state says
where one call stands. A ``Line`` follows by itself the call-control events
that concern its call alone (ringing, answered, the answers to hold and
resume) and says what it looks like in the call log; whatever involves the
person, the other lines or an output (a new call, a call ending, a key) is
handset.py's, and what the phone shows and sounds for a state is
handsetview.py's. The functions at the end look lines up in the handset's
list, in order (the first match wins), and change nothing.
"""

from firmware.app import callcontrol as cc
from firmware.app import screen as scr
from firmware.app.calllog import ANSWERED, CANCELLED, INCOMING, MISSED, OUTGOING, CallEntry

# Modes of the handset.
IDLE = "idle"            # on-hook, nothing ringing
RINGING = "ringing"      # on-hook, a call offered (or waiting, or held) rings
DIALTONE = "dialtone"    # off-hook, no key yet
DIALING = "dialing"      # off-hook, keys being collected
CALLING = "calling"      # off-hook, our call is on its way
TALKING = "talking"      # off-hook, in a call (maybe with others held or waiting)
NOTICE = "notice"        # off-hook, showing why there is no call (busy, failed, ended)

# States of one line (a call as the handset sees it).
L_CALLING = "calling"
L_ALERTING = "alerting"
L_OFFERED = "offered"
L_WAITING = "waiting"
L_ANSWERING = "answering"
L_ACTIVE = "active"
L_HOLDING = "holding"
L_HELD = "held"
L_RESUMING = "resuming"
L_ENDING = "ending"

IN_EARPIECE = (L_CALLING, L_ALERTING, L_ANSWERING, L_ACTIVE, L_RESUMING)
ON_HOLD = (L_HOLDING, L_HELD)


class Line:
    """One call as the handset sees it."""

    __slots__ = ("call", "outgoing", "uri", "name", "number", "state", "when",
                 "connected_at", "early_media", "note", "logged", "released")

    def __init__(self, outgoing, state, uri="", name="", number="", call=None, when=None):
        self.call = call
        self.outgoing = outgoing
        self.uri = uri or ""
        self.name = name or ""
        self.number = number or ""
        self.state = state
        self.when = when
        self.connected_at = None
        self.early_media = False
        self.note = ""
        self.logged = False
        self.released = False

    @property
    def party(self):
        if self.outgoing and self.number and not self.name:
            return self.number
        return scr.party_text(self.name, self.uri)

    @property
    def detail(self):
        return scr.uri_user_host(self.uri)

    def __repr__(self):
        return "Line(%s %s %s)" % (self.call, self.state, self.party)

    def follow(self, event, now):
        """A CallEvent (callcontrol.py) that cannot end the call: ringing (183
        brings early media), answered, the far end's answer to hold or resume,
        a hold or resume that failed. Ignored once the line is ending."""
        name = event.name
        state = self.state
        if name == cc.TASKFAIL:
            if state == L_HOLDING:
                self.state = L_ACTIVE
                self.note = "Hold failed"
            elif state == L_RESUMING:
                self.state = L_HELD
                self.note = "Resume failed"
            return
        if state == L_ENDING:
            return
        if name == cc.ALERTING and state in (L_CALLING, L_ALERTING):
            self.state = L_ALERTING
        elif name == cc.EARLYMEDIA and state in (L_CALLING, L_ALERTING):
            self.state = L_ALERTING
            self.early_media = True  # the network's audio, not our ringback
        elif name == cc.CONNECTED and state in (L_CALLING, L_ALERTING, L_ANSWERING):
            self.state = L_ACTIVE
            self.connected_at = now
            self.note = ""
        elif name == cc.HOLDACK and state in (L_HOLDING, L_ACTIVE):
            self.state = L_HELD
            self.note = ""
        elif name == cc.HOLDREJ and state == L_HOLDING:
            self.state = L_ACTIVE
            self.note = "Hold failed"
        elif name == cc.RESUMEACK and state in (L_RESUMING, L_HELD):
            self.state = L_ACTIVE
            self.note = ""
        elif name == cc.RESUMEREJ and state == L_RESUMING:
            self.state = L_HELD
            self.note = "Resume failed"

    def log_entry(self, now, status=None, reason=""):
        """This call as a calllog.py entry at ``now``. Without a ``status`` it is
        answered if it connected, else cancelled (ours) or missed (theirs)."""
        talked = self.connected_at is not None
        if status is None:
            if talked:
                status = ANSWERED
            elif self.outgoing:
                status = CANCELLED
            else:
                status = MISSED
        duration = int(now - self.connected_at) if talked else 0
        return CallEntry(OUTGOING if self.outgoing else INCOMING, status, self.uri, self.name,
                         self.number, self.when, duration, reason)


def line_for_call(lines, call):
    """The line of call number ``call``, or None."""
    if call is None:
        return None
    for line in lines:
        if line.call == call:
            return line
    return None


def live_lines(lines):
    """The lines not being ended."""
    return [line for line in lines if line.state != L_ENDING]


def first_line(lines, state):
    for line in lines:
        if line.state == state:
            return line
    return None


def current_line(lines):
    """The call in the earpiece, if any."""
    for line in lines:
        if line.state in IN_EARPIECE:
            return line
    return None


def other_lines(lines):
    """Calls waiting or on hold."""
    return [line for line in lines if line.state in (L_WAITING, L_HOLDING, L_HELD)]


def held_line(lines):
    """A call on hold: one the far end confirmed first, else one being put on hold."""
    return first_line(lines, L_HELD) or first_line(lines, L_HOLDING)


def ringing_line(lines):
    """The call the phone rings for while on-hook: offered or waiting first,
    then one on hold (a recall)."""
    return (first_line(lines, L_OFFERED) or first_line(lines, L_WAITING)
            or held_line(lines))
