"""What the handset shows and sounds for its state: tone, LEDs, screen, and when they change.

Rule: every function here reads and never changes: a ``Handset``
(handset.py) with its mode, lines, notice, keys dialled, registration and
clock, or, for ``registration_status``, one registration event.
``Handset._sync`` asks after each input and queues only what differs from
what it queued last, so the tone, the LEDs and the screen are a function of
the state alone and no path through the machine can leave one stale. The
screen rows are screen.py views; the deadlines say when the screen changes
with no input at all (the call timer's next second, the idle clock's next
minute).
"""

from firmware.app import callcontrol as cc
from firmware.app import screen as scr
from firmware.app.handsetio import LED_BLINK, LED_LINE, LED_MESSAGE, LED_OFF, LED_ON, \
    LED_RINGING
from firmware.app.handsetstate import (CALLING, DIALING, DIALTONE, IDLE, L_ALERTING,
                                       L_ANSWERING, L_RESUMING, L_WAITING, NOTICE, ON_HOLD,
                                       RINGING, TALKING, current_line, first_line, held_line,
                                       ringing_line)
from firmware.core import tones


def registration_status(event):
    """``(text, problem)`` for a registration CallEvent: the idle screen's line
    about it, and whether that needs attention (it then outranks DND and
    missed calls on a small display)."""
    name = event.name
    if name == cc.REGISTERING:
        return "Registering...", False
    if name in (cc.REGISTERED, cc.REFRESHING):
        return "Registered", False
    if name == cc.REGFAIL:
        return ("No service %s" % (event.status or event.cause or "")).strip(), True
    return "Not registered", True


def wanted_tone(handset):
    """The name of the tone to play (core/tones.py), or None for silence."""
    mode = handset.mode
    if mode == DIALTONE:
        return tones.DIAL
    if mode == CALLING:
        current = current_line(handset.lines)
        if current is not None and current.state == L_ALERTING and not current.early_media:
            return tones.RINGBACK
        return None
    if mode == TALKING:
        return tones.CALL_WAITING if first_line(handset.lines, L_WAITING) is not None else None
    if mode == NOTICE:
        return handset.notice[2] if handset.notice is not None else None
    return None


def wanted_leds(handset):
    """``((name, state), ...)`` for every LED, in a fixed order."""
    lines = handset.lines
    held = current_line(lines) is None and held_line(lines)
    if held:
        line = LED_BLINK
    else:
        line = LED_ON if handset.lifted else LED_OFF
    ringing = handset.mode == RINGING or first_line(lines, L_WAITING) is not None
    message = handset.message_waiting or handset.log.unseen_missed() > 0
    return ((LED_LINE, line), (LED_RINGING, LED_BLINK if ringing else LED_OFF),
            (LED_MESSAGE, LED_BLINK if message else LED_OFF))


def screen_rows(handset, now):
    """The screen.py rows of the screen for the mode at ``now``."""
    mode = handset.mode
    lines = handset.lines
    if mode == IDLE:
        return scr.idle_view(handset.display_name or handset.user, handset.registration,
                             handset.wall_now(now), handset.dnd, handset.log.unseen_missed(),
                             handset.registration_problem)
    if mode == RINGING:
        line = ringing_line(lines)
        title = "Call on hold" if line.state in ON_HOLD else "Incoming call"
        return scr.ringing_view(title, line.party, line.detail)
    if mode in (DIALTONE, DIALING):
        return scr.dialing_view(handset.dialer.keys, "DND" if handset.dnd else "")
    if mode == CALLING:
        line = current_line(lines)
        status = "Ringing" if line.state == L_ALERTING else "Calling"
        return scr.calling_view(status, line.party, line.detail)
    waiting = first_line(lines, L_WAITING)
    waiting_party = waiting.party if waiting is not None else ""
    if mode == NOTICE:
        title, reason, _ = handset.notice
        rows = scr.notice_view(title, reason)
        if waiting is not None:
            # the waiting caller takes the second line, as in a call
            rows.insert(1, scr.Row(scr.SECOND, "Waiting: " + waiting_party))
        held = held_line(lines)
        if held is not None:
            rows.append(scr.Row(scr.FOURTH, "Held: " + held.party))
        return rows
    current = current_line(lines)
    held = held_line(lines)
    if current is None:
        # only calls on hold (or waiting) remain: show the held one
        shown = held or waiting
        return scr.talking_view(shown.party, elapsed(shown, now), "On hold",
                                waiting_party if shown is not waiting else "",
                                detail=shown.detail)
    status = current.note
    if current.state == L_ANSWERING:
        status = "Connecting"
    elif current.state == L_RESUMING:
        status = "Resuming"
    return scr.talking_view(current.party, elapsed(current, now), status,
                            waiting_party, held.party if held is not None else "",
                            current.detail)


def elapsed(line, now):
    """Whole seconds since ``line`` connected, or None before it did."""
    if line.connected_at is None:
        return None
    return int(now - line.connected_at)


def call_timer_deadline(handset):
    """When the call timer on the screen shows its next second, or None."""
    if handset.mode != TALKING:
        return None
    lines = handset.lines
    line = current_line(lines) or held_line(lines)
    if line is None or line.connected_at is None:
        return None
    return line.connected_at + int(handset.now - line.connected_at) + 1


def clock_deadline(handset):
    """When the idle screen's clock shows its next minute, or None."""
    if handset.mode != IDLE or handset.wall is None:
        return None
    into_minute = (handset.wall[5] + (handset.now - handset.wall_at)) % 60
    return handset.now + 60 - into_minute
