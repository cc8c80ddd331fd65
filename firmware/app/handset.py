"""The handset: the phone's behaviour between keypad, hook, display, tones and call control.

Rule: sans-IO. Inputs are method calls with ``now`` (float seconds):
``off_hook``, ``on_hook``, ``key_down`` (or ``input_event`` with the drivers'
``(kind, key, now)`` tuples), ``call_event`` (the CallEvents of
app/callcontrol.py), ``placed`` (the call number ``make_call`` gave for a
MakeCall), ``on_timer``, ``set_wall_clock`` (the time of day, handed in: never
read here), ``set_dnd``, ``set_message_waiting``. Outputs are the objects of
handsetio.py (call commands, DTMF, tone, ringer, LEDs, screen, call log),
queued in order and drained with ``commands()``.

This module holds the transitions. Every input first changes the lines
(handsetstate.py: one per call) and the mode; the keys being dialled are
the Dialer's (dialer.py). Then ``_sync`` derives the tone, the ringer, the
LEDs and the screen from that state (handsetview.py) and queues only what
changed, so no path through the machine can leave a tone playing or an LED
lit by mistake. A call in the earpiece needs the handset lifted: on-hook
drops it, and calls that remain (waiting or on hold) make the phone ring
again until the handset is lifted.
"""

from firmware.app import callcontrol as cc
from firmware.app import handsetview
from firmware.app import screen as scr
from firmware.app.calllog import BUSY, FAILED, REFUSED, CallLog
from firmware.app.dialer import PLACE, Dialer
from firmware.app.dialplan import destination_uri
from firmware.app.handsetio import (AcceptCall, AnswerCall, DropCall, HoldCall, MakeCall,
                                    PlayTone, ReleaseCall, ResumeCall, RingerOff, RingerOn,
                                    SaveCallLog, SendDtmf, SetLed, ShowScreen, StopTone,
                                    seconds_pairs)
from firmware.app.handsetstate import (CALLING, DIALING, DIALTONE, IDLE, IN_EARPIECE,
                                       L_ACTIVE, L_ALERTING, L_ANSWERING, L_CALLING, L_ENDING,
                                       L_HELD, L_HOLDING, L_OFFERED, L_RESUMING, L_WAITING,
                                       NOTICE, RINGING, TALKING, Line, current_line,
                                       first_line, line_for_call, live_lines, other_lines,
                                       ringing_line)
from firmware.core import tones

# What the drivers report (keypad.KEY_DOWN, hook.OFF_HOOK, hook.ON_HOOK).
KEY_DOWN = "key_down"
OFF_HOOK = "off_hook"
ON_HOOK = "on_hook"

DIAL_KEYS = "0123456789*#"
REDIAL_KEY = "redial"
DND_KEY = "dnd"
HOLD_KEY = "hold"
FLASH_KEYS = ("flash", "transfer")

MAX_LINES = 2
BUSY_HERE = 486
BUSY_STATUSES = (486, 600)

DEFAULTS = {
    "dial_plan": "",
    "digit_timeout_s": 4.0,
    "first_digit_timeout_s": 20.0,
    "call_waiting": True,
    "dnd": False,
    "region": tones.EUROPE,
    "call_log_size": 50,
}


# -- the state machine ---------------------------------------------------------------------


def _setting(config, section, key, default):
    """``config[section][key]`` from dicts or objects with attributes."""
    if config is None:
        return default
    part = config.get(section) if isinstance(config, dict) else getattr(config, section, None)
    if part is None:
        return default
    value = part.get(key) if isinstance(part, dict) else getattr(part, key, None)
    return default if value is None else value


class Handset:
    def __init__(self, config=None, width=16, height=2, call_log=None, now=0.0):
        self.user = _setting(config, "account", "user", "")
        self.domain = _setting(config, "account", "domain", "")
        self.display_name = _setting(config, "account", "display_name", "")

        def phone(key):
            return _setting(config, "phone", key, DEFAULTS[key])

        self.dialer = Dialer(phone("dial_plan"), phone("digit_timeout_s"),
                             phone("first_digit_timeout_s"))
        self.call_waiting = bool(phone("call_waiting"))
        self.dnd = bool(phone("dnd"))
        self.region = phone("region")
        self.ring_cadence = seconds_pairs(tones.ringer_cadence(self.region))
        for name in tones.TONE_NAMES:
            tones.tone(self.region, name)  # ValueError now rather than mid-call
        self.log = call_log if call_log is not None else CallLog(int(phone("call_log_size")))
        self.screen = scr.ScreenModel(width, height)

        self.now = now
        self.mode = IDLE
        self.lifted = False
        self.notice = None            # (title, reason, tone name or None)
        self.lines = []
        self.registration = ""
        self.registration_problem = False
        self.message_waiting = False
        self.wall = None              # the last wall tuple handed in, and when
        self.wall_at = None
        last = self.log.last_dialled()
        self.last_dialled = (last.number, last.uri) if last is not None else None

        self._out = []
        self._tone = None
        self._ringing = False
        self._leds = {}

    def __repr__(self):
        return "Handset(%s, %d lines)" % (self.mode, len(self.lines))

    # -- the runtime's side ------------------------------------------------------------

    def start(self, now, now_wall=None):
        """Queue the first screen and LED states. (A handset already lifted at
        start-up gives no hook event: the runtime calls ``off_hook`` then.)"""
        self.now = now
        if now_wall is not None:
            self.set_wall_clock(now_wall, now)
        self._sync(now)

    def commands(self):
        """Drain the outputs queued so far, in order."""
        out = self._out
        self._out = []
        return out

    def next_deadline(self):
        """When ``on_timer`` must run next: digit timeout, call timer, clock."""
        best = self.dialer.deadline
        for t in (handsetview.call_timer_deadline(self), handsetview.clock_deadline(self)):
            if t is not None and (best is None or t < best):
                best = t
        return best

    def on_timer(self, now, now_wall=None):
        if now_wall is not None:
            self.set_wall_clock(now_wall, now)
        self.now = now
        if self.dialer.due(now):
            self._digit_timeout(now)
        self._sync(now)

    def set_wall_clock(self, now_wall, now):
        """The time of day at ``now``: ``(year, month, day, hour, minute, second)``."""
        self.now = now
        self.wall = tuple(now_wall[:6])
        self.wall_at = now
        self._sync(now)

    def wall_now(self, now):
        if self.wall is None:
            return None
        return scr.wall_add(self.wall, int(now - self.wall_at))

    def set_dnd(self, on, now):
        self.now = now
        self.dnd = bool(on)
        self._sync(now)

    def set_message_waiting(self, on, now):
        """Voicemail waiting (e.g. from a future MWI subscription): message LED."""
        self.now = now
        self.message_waiting = bool(on)
        self._sync(now)

    # -- inputs: hook and keys -----------------------------------------------------------

    def input_event(self, kind, key, now):
        """An event tuple of the drivers: (KEY_DOWN, key, now), (OFF_HOOK, None, now)..."""
        if kind == KEY_DOWN:
            self.key_down(key, now)
        elif kind == OFF_HOOK:
            self.off_hook(now)
        elif kind == ON_HOOK:
            self.on_hook(now)

    def off_hook(self, now):
        self.now = now
        if self.lifted:
            return
        self.lifted = True
        if self.log.mark_seen():
            self._save_log()
        line = ringing_line(self.lines)
        if line is not None and self.mode == RINGING:
            self._pick_up(line)
        else:
            self._start_dialing(now)
        self._settle(now)
        self._sync(now)

    def on_hook(self, now):
        self.now = now
        if not self.lifted:
            return
        self.lifted = False
        self.dialer.stop()
        self.notice = None
        self._settle(now)
        self._sync(now)

    def key_down(self, key, now):
        self.now = now
        mode = self.mode
        if key == DND_KEY:
            self.dnd = not self.dnd
            ringing = ringing_line(self.lines)
            if self.dnd and mode == RINGING and ringing is not None \
                    and ringing.state in (L_OFFERED, L_WAITING):
                self._refuse(ringing, "dnd")
                self._settle(now)
        elif mode in (DIALTONE, DIALING):
            if key in DIAL_KEYS and len(key) == 1:
                self._dial_key(key, now)
            elif key == REDIAL_KEY and not self.dialer.keys:
                self._redial(now)
        elif mode == NOTICE and key == REDIAL_KEY and not other_lines(self.lines):
            self._redial(now)
        elif mode in (TALKING, NOTICE):
            current = current_line(self.lines)
            if key in DIAL_KEYS and len(key) == 1:
                if current is not None and current.state == L_ACTIVE:
                    self._queue(SendDtmf(current.call, key))
            elif key == HOLD_KEY:
                self._hold_key(current)
            elif key in FLASH_KEYS:
                self._flash(current)
            self._settle(now)
        self._sync(now)

    # -- inputs: call control --------------------------------------------------------------

    def placed(self, command, number, now):
        """``make_call`` returned ``number`` for ``command`` (a MakeCall)."""
        self.now = now
        line = command.line
        if line is None or number is None:
            return
        line.call = number
        if line.state == L_ENDING and not line.released:
            self._queue(DropCall(number))

    def call_event(self, event, now):
        """One CallEvent (callcontrol.py): registration, call progress, endings."""
        self.now = now
        name = event.name
        if name in (cc.REGISTERING, cc.REGISTERED, cc.REFRESHING, cc.REGFAIL,
                    cc.UNREGISTERED):
            self.registration, self.registration_problem = \
                handsetview.registration_status(event)
        elif name == cc.OFFERED:
            self._offered(event, now)
        else:
            line = line_for_call(self.lines, event.call)
            if line is not None:
                self._call_progress(line, event, now)
        self._settle(now)
        self._sync(now)

    def _offered(self, event, now):
        if line_for_call(self.lines, event.call) is not None:
            return
        name = getattr(event, "display", None) or ""
        line = Line(False, L_OFFERED, event.remote, name, call=event.call,
                    when=self.wall_now(now))
        self.lines.append(line)
        live = live_lines(self.lines)
        if self.dnd:
            self._refuse(line, "dnd")
        elif self.mode == IDLE and len(live) == 1:
            self._queue(AcceptCall(line.call))
        elif (self.call_waiting and self.mode == TALKING and len(live) <= MAX_LINES
              and first_line(self.lines, L_WAITING) is None):
            line.state = L_WAITING
            self._queue(AcceptCall(line.call))
        else:
            self._refuse(line, "busy")

    def _call_progress(self, line, event, now):
        name = event.name
        state = line.state
        if name == cc.RELEASECALL:
            self.lines.remove(line)
            self._log(line, now)  # a line that ended unnoticed is still logged
            return
        if name == cc.DROPCALL:
            if state != L_ENDING:
                self._log(line, now)
                self._ended_here(line, "Call ended", event)
            self._release(line)
            return
        if name == cc.TASKFAIL and event.state == cc.IDLE:
            if state != L_ENDING and line.outgoing:
                self._failed(line, event, now)
            elif state != L_ENDING:
                self._log(line, now)
                self._ended_here(line, "Call ended", event)
            self._release(line)
            return
        if name == cc.DISCONNECTED and state != L_ENDING:
            self._ended_here(line, "Call ended", event)
            line.state = L_ENDING
            self._queue(DropCall(line.call))
            self._log(line, now)
            return
        line.follow(event, now)  # progress that concerns this call alone

    def _ended_here(self, line, title, event):
        """The far end (or the network) ended ``line``: tell the user if it was
        the call in the earpiece."""
        if self.lifted and line.state in IN_EARPIECE:
            reason = line.party
            if event.cause and event.cause not in ("remote hung up", "cancelled"):
                reason = event.cause
            self.notice = (title, reason, tones.BUSY)

    def _failed(self, line, event, now):
        """Our call failed (TASKFAIL with the call IDLE): busy or congestion."""
        status = event.status
        reason = ("%s %s" % (status or "", event.cause or "")).strip()
        busy = status in BUSY_STATUSES
        self._log(line, now, BUSY if busy else FAILED, reason)
        if self.lifted and line.state in IN_EARPIECE:
            if busy:
                self.notice = ("Busy", line.party, tones.BUSY)
            else:
                self.notice = ("Call failed", reason or "no reason given", tones.CONGESTION)
        line.state = L_ENDING

    # -- dialling ------------------------------------------------------------------------

    def _start_dialing(self, now):
        self.dialer.start(now)
        self.notice = None
        self.mode = DIALTONE

    def _dial_key(self, key, now):
        outcome = self.dialer.key(key, now)
        if outcome is None:
            self.mode = DIALING
        else:
            self._dialled(outcome, now)

    def _digit_timeout(self, now):
        if self.mode == DIALTONE:
            self._notice("Dial timeout", "", tones.CONGESTION)
        elif self.mode == DIALING:
            self._dialled(self.dialer.timeout(), now)

    def _dialled(self, outcome, now):
        """Act on what the dialling came to (dialer.py): call, or say why not."""
        verdict, text, keys = outcome
        if verdict == PLACE:
            self._place(text, keys, now)
        else:
            self._notice(text, keys, tones.CONGESTION)

    def _notice(self, title, reason, tone):
        self.notice = (title, reason, tone)
        self.mode = NOTICE
        self.dialer.stop()

    def _redial(self, now):
        if self.last_dialled is None:
            return
        number, uri = self.last_dialled
        self._place(uri or number, number, now)

    def _place(self, number, keys, now):
        uri = destination_uri(number, self.domain)
        line = Line(True, L_CALLING, uri, "", keys or number, when=self.wall_now(now))
        self.lines.append(line)
        self.last_dialled = (line.number, uri)
        self.dialer.stop()
        self.notice = None
        self.mode = CALLING
        self._queue(MakeCall(uri, line))

    # -- in a call --------------------------------------------------------------------

    def _pick_up(self, line):
        if line.state in (L_OFFERED, L_WAITING):
            line.state = L_ANSWERING
            self._queue(AnswerCall(line.call))
        elif line.state == L_HELD:
            line.state = L_RESUMING
            self._queue(ResumeCall(line.call))

    def _hold_key(self, current):
        if first_line(self.lines, L_WAITING) is not None:
            self._flash(current)
        elif current is not None and current.state == L_ACTIVE:
            current.state = L_HOLDING
            self._queue(HoldCall(current.call))
        elif current is None:
            held = first_line(self.lines, L_HELD)
            if held is not None:
                self._pick_up(held)

    def _flash(self, current):
        """Answer the waiting call, or swap with the held one; the call in the
        earpiece goes on hold first."""
        other = first_line(self.lines, L_WAITING) or first_line(self.lines, L_HELD)
        if other is None:
            return
        if current is not None:
            if current.state != L_ACTIVE:
                return
            current.state = L_HOLDING
            self._queue(HoldCall(current.call))
        self.notice = None
        self._pick_up(other)

    # -- ending calls ---------------------------------------------------------------------

    def _refuse(self, line, why):
        """Turn an offered call away with 486 and log it as refused."""
        line.state = L_ENDING
        self._queue(DropCall(line.call, BUSY_HERE))
        self._log(line, self.now, REFUSED, why)

    def _drop(self, line, now):
        line.state = L_ENDING
        if line.call is not None:
            self._queue(DropCall(line.call))
        self._log(line, now)

    def _release(self, line):
        line.state = L_ENDING
        if not line.released and line.call is not None:
            line.released = True
            self._queue(ReleaseCall(line.call))

    def _settle(self, now):
        """Choose the mode from the hook, the lines and the notice."""
        if not self.lifted:
            for line in self.lines:
                if line.state in IN_EARPIECE:
                    self._drop(line, now)
            self.mode = RINGING if ringing_line(self.lines) is not None else IDLE
            return
        current = current_line(self.lines)
        if current is not None:
            self.notice = None
            self.mode = CALLING if current.state in (L_CALLING, L_ALERTING) else TALKING
        elif self.mode in (DIALTONE, DIALING):
            return
        elif self.notice is not None:
            self.mode = NOTICE
        elif other_lines(self.lines):
            self.mode = TALKING
        else:
            self._notice("Call ended", "", tones.BUSY)

    # -- the call log ------------------------------------------------------------------------

    def _log(self, line, now, status=None, reason=""):
        if line.logged:
            return
        line.logged = True
        self.log.add(line.log_entry(now, status, reason))
        self._save_log()

    def _save_log(self):
        self._queue(SaveCallLog(self.log.to_json()))

    # -- outputs ------------------------------------------------------------------------------

    def _queue(self, output):
        self._out.append(output)

    def _sync(self, now):
        """Queue the tone, ringer, LED and screen changes the state asks for."""
        tone = handsetview.wanted_tone(self)
        if tone != self._tone:
            self._tone = tone
            self._queue(StopTone() if tone is None else PlayTone(tone, tones.tone(self.region,
                                                                                  tone)))
        ringing = self.mode == RINGING
        if ringing != self._ringing:
            self._ringing = ringing
            self._queue(RingerOn(self.region, self.ring_cadence) if ringing else RingerOff())
        for name, state in handsetview.wanted_leds(self):
            if self._leds.get(name) != state:
                self._leds[name] = state
                self._queue(SetLed(name, state))
        if self.screen.show(handsetview.screen_rows(self, now)):
            self._queue(ShowScreen(self.screen.lines))

