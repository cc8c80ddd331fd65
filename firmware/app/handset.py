"""The handset: the phone's behaviour between keypad, hook, display, tones and call control.

Rule: sans-IO. Inputs are method calls with ``now`` (float seconds):
``off_hook``, ``on_hook``, ``key_down`` (or ``input_event`` with the drivers'
``(kind, key, now)`` tuples), ``call_event`` (the CallEvents of
app/callcontrol.py), ``placed`` (the call number ``make_call`` gave for a
MakeCall), ``on_timer``, ``set_wall_clock`` (the time of day, handed in: never
read here), ``set_dnd``, ``set_message_waiting``. Outputs (handsetio.py) are
objects queued in order and drained with ``commands()``; each has a ``kind``:

    "call"    MakeCall, AcceptCall, AnswerCall, DropCall, ReleaseCall, HoldCall,
              ResumeCall: ``apply(control, now)`` runs one on a CallControl,
              ``handsetio.run_commands`` runs them all
    "dtmf"    SendDtmf(call, digit)
    "tone"    PlayTone(name, tone) (a core.tones.Tone of the region) / StopTone()
    "ringer"  RingerOn(region, cadence) ((on_s, off_s) pairs) / RingerOff()
    "led"     SetLed(name, state): line, message, ringing; off, on or blink
    "screen"  ShowScreen(lines): exactly height lines of width characters
    "log"     SaveCallLog(text): the call log's JSON, for runtime/storage.py

Every input first changes the calls and the mode; then ``_sync`` derives the
tone, the ringer, the LEDs and the screen from that state and queues only
what changed, so no path through the machine can leave a tone playing or an
LED lit by mistake. A call in the earpiece needs the handset lifted: on-hook
drops it, and calls that remain (waiting or on hold) make the phone ring
again until the handset is lifted.
"""

from firmware.app import callcontrol as cc
from firmware.app import screen as scr
from firmware.app.calllog import (ANSWERED, BUSY, CANCELLED, FAILED, INCOMING, MISSED,
                                  OUTGOING, REFUSED, CallEntry, CallLog)
from firmware.app.dialplan import COMPLETE, INVALID, WAIT, DialPlan, destination_uri
from firmware.app.handsetio import (AcceptCall, AnswerCall, DropCall, HoldCall, MakeCall,
                                    PlayTone, ReleaseCall, ResumeCall, RingerOff, RingerOn,
                                    SaveCallLog, SendDtmf, SetLed, ShowScreen, StopTone,
                                    seconds_pairs)
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

LED_LINE = "line"
LED_MESSAGE = "message"
LED_RINGING = "ringing"
LED_OFF = "off"
LED_ON = "on"
LED_BLINK = "blink"

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

_IN_EARPIECE = (L_CALLING, L_ALERTING, L_ANSWERING, L_ACTIVE, L_RESUMING)
_ON_HOLD = (L_HOLDING, L_HELD)
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


class Handset:
    def __init__(self, config=None, width=16, height=2, call_log=None, now=0.0):
        self.user = _setting(config, "account", "user", "")
        self.domain = _setting(config, "account", "domain", "")
        self.display_name = _setting(config, "account", "display_name", "")

        def phone(key):
            return _setting(config, "phone", key, DEFAULTS[key])

        self.plan = DialPlan(phone("dial_plan"))
        self.digit_timeout = float(phone("digit_timeout_s"))
        self.first_digit_timeout = float(phone("first_digit_timeout_s"))
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
        self.keys = ""
        self.digit_deadline = None
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
        best = self.digit_deadline
        for t in (self._call_timer_deadline(), self._clock_deadline()):
            if t is not None and (best is None or t < best):
                best = t
        return best

    def on_timer(self, now, now_wall=None):
        if now_wall is not None:
            self.set_wall_clock(now_wall, now)
        self.now = now
        if self.digit_deadline is not None and now >= self.digit_deadline:
            self.digit_deadline = None
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
        line = self._ringing_line()
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
        self.keys = ""
        self.digit_deadline = None
        self.notice = None
        self._settle(now)
        self._sync(now)

    def key_down(self, key, now):
        self.now = now
        mode = self.mode
        if key == DND_KEY:
            self.dnd = not self.dnd
            ringing = self._ringing_line()
            if self.dnd and mode == RINGING and ringing is not None \
                    and ringing.state in (L_OFFERED, L_WAITING):
                self._refuse(ringing, "dnd")
                self._settle(now)
        elif mode in (DIALTONE, DIALING):
            if key in DIAL_KEYS and len(key) == 1:
                self._dial_key(key, now)
            elif key == REDIAL_KEY and not self.keys:
                self._redial(now)
        elif mode == NOTICE and key == REDIAL_KEY and not self._others():
            self._redial(now)
        elif mode in (TALKING, NOTICE):
            current = self._current()
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
            self._registration(event)
        elif name == cc.OFFERED:
            self._offered(event, now)
        else:
            line = self._line(event.call)
            if line is not None:
                self._call_progress(line, event, now)
        self._settle(now)
        self._sync(now)

    def _registration(self, event):
        name = event.name
        self.registration_problem = False
        if name == cc.REGISTERING:
            self.registration = "Registering..."
        elif name in (cc.REGISTERED, cc.REFRESHING):
            self.registration = "Registered"
        elif name == cc.REGFAIL:
            self.registration = "No service %s" % (event.status or event.cause or "")
            self.registration = self.registration.strip()
            self.registration_problem = True
        else:
            self.registration = "Not registered"
            self.registration_problem = True

    def _offered(self, event, now):
        if self._line(event.call) is not None:
            return
        name = getattr(event, "display", None) or ""
        line = Line(False, L_OFFERED, event.remote, name, call=event.call,
                    when=self.wall_now(now))
        self.lines.append(line)
        live = self._live()
        if self.dnd:
            self._refuse(line, "dnd")
        elif self.mode == IDLE and len(live) == 1:
            self._queue(AcceptCall(line.call))
        elif (self.call_waiting and self.mode == TALKING and len(live) <= MAX_LINES
              and self._first(L_WAITING) is None):
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
        if name == cc.TASKFAIL:
            if event.state == cc.IDLE:
                if state != L_ENDING and line.outgoing:
                    self._failed(line, event, now)
                elif state != L_ENDING:
                    self._log(line, now)
                    self._ended_here(line, "Call ended", event)
                self._release(line)
            elif state == L_HOLDING:
                line.state = L_ACTIVE
                line.note = "Hold failed"
            elif state == L_RESUMING:
                line.state = L_HELD
                line.note = "Resume failed"
            return
        if state == L_ENDING:
            return
        if name == cc.ALERTING and state in (L_CALLING, L_ALERTING):
            line.state = L_ALERTING
            line.early_media = event.status == 183
        elif name == cc.CONNECTED and state in (L_CALLING, L_ALERTING, L_ANSWERING):
            line.state = L_ACTIVE
            line.connected_at = now
            line.note = ""
        elif name == cc.DISCONNECTED:
            self._ended_here(line, "Call ended", event)
            line.state = L_ENDING
            self._queue(DropCall(line.call))
            self._log(line, now)
        elif name == cc.HOLDACK and state in (L_HOLDING, L_ACTIVE):
            line.state = L_HELD
            line.note = ""
        elif name == cc.HOLDREJ and state == L_HOLDING:
            line.state = L_ACTIVE
            line.note = "Hold failed"
        elif name == cc.RESUMEACK and state in (L_RESUMING, L_HELD):
            line.state = L_ACTIVE
            line.note = ""
        elif name == cc.RESUMEREJ and state == L_RESUMING:
            line.state = L_HELD
            line.note = "Resume failed"

    def _ended_here(self, line, title, event):
        """The far end (or the network) ended ``line``: tell the user if it was
        the call in the earpiece."""
        if self.lifted and line.state in _IN_EARPIECE:
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
        if self.lifted and line.state in _IN_EARPIECE:
            if busy:
                self.notice = ("Busy", line.party, tones.BUSY)
            else:
                self.notice = ("Call failed", reason or "no reason given", tones.CONGESTION)
        line.state = L_ENDING

    # -- dialling ------------------------------------------------------------------------

    def _start_dialing(self, now):
        self.keys = ""
        self.notice = None
        self.mode = DIALTONE
        self.digit_deadline = now + self.first_digit_timeout

    def _hash_sends(self):
        """``#`` ends dialling unless the plan takes it as a key right here."""
        if not self.keys:
            return False
        return not self.plan.alternatives or not self.plan.takes(self.keys + "#")

    def _dial_key(self, key, now):
        if key == "#" and self._hash_sends():
            status, number = self.plan.match(self.keys)
            self._place(number if status in (COMPLETE, WAIT) else self.keys, self.keys, now)
            return
        self.keys += key
        self.mode = DIALING
        status, number = self.plan.match(self.keys)
        if status == INVALID:
            self._notice("Invalid number", self.keys, tones.CONGESTION)
        elif status == COMPLETE:
            self._place(number, self.keys, now)
        else:
            self.digit_deadline = now + self.digit_timeout

    def _digit_timeout(self, now):
        if self.mode == DIALTONE:
            self._notice("Dial timeout", "", tones.CONGESTION)
        elif self.mode == DIALING:
            status, number = self.plan.match(self.keys)
            if status in (COMPLETE, WAIT):
                self._place(number, self.keys, now)
            else:
                self._notice("Too few digits", self.keys, tones.CONGESTION)

    def _notice(self, title, reason, tone):
        self.notice = (title, reason, tone)
        self.mode = NOTICE
        self.keys = ""
        self.digit_deadline = None

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
        self.keys = ""
        self.digit_deadline = None
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
        if self._first(L_WAITING) is not None:
            self._flash(current)
        elif current is not None and current.state == L_ACTIVE:
            current.state = L_HOLDING
            self._queue(HoldCall(current.call))
        elif current is None:
            held = self._first(L_HELD)
            if held is not None:
                self._pick_up(held)

    def _flash(self, current):
        """Answer the waiting call, or swap with the held one; the call in the
        earpiece goes on hold first."""
        other = self._first(L_WAITING) or self._first(L_HELD)
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
                if line.state in _IN_EARPIECE:
                    self._drop(line, now)
            self.mode = RINGING if self._ringing_line() is not None else IDLE
            return
        current = self._current()
        if current is not None:
            self.notice = None
            self.mode = CALLING if current.state in (L_CALLING, L_ALERTING) else TALKING
        elif self.mode in (DIALTONE, DIALING):
            return
        elif self.notice is not None:
            self.mode = NOTICE
        elif self._others():
            self.mode = TALKING
        else:
            self._notice("Call ended", "", tones.BUSY)

    # -- the call log ------------------------------------------------------------------------

    def _log(self, line, now, status=None, reason=""):
        if line.logged:
            return
        line.logged = True
        talked = line.connected_at is not None
        if status is None:
            if talked:
                status = ANSWERED
            elif line.outgoing:
                status = CANCELLED
            else:
                status = MISSED
        duration = int(now - line.connected_at) if talked else 0
        entry = CallEntry(OUTGOING if line.outgoing else INCOMING, status, line.uri, line.name,
                          line.number, line.when, duration, reason)
        self.log.add(entry)
        self._save_log()

    def _save_log(self):
        self._queue(SaveCallLog(self.log.to_json()))

    # -- lines ----------------------------------------------------------------------------

    def _line(self, call):
        if call is None:
            return None
        for line in self.lines:
            if line.call == call:
                return line
        return None

    def _live(self):
        return [line for line in self.lines if line.state != L_ENDING]

    def _first(self, state):
        for line in self.lines:
            if line.state == state:
                return line
        return None

    def _current(self):
        """The call in the earpiece, if any."""
        for line in self.lines:
            if line.state in _IN_EARPIECE:
                return line
        return None

    def _others(self):
        """Calls waiting or on hold."""
        return [line for line in self.lines if line.state in (L_WAITING, L_HOLDING, L_HELD)]

    def _ringing_line(self):
        """The call the phone rings for while on-hook: offered or waiting first,
        then one on hold (a recall)."""
        return (self._first(L_OFFERED) or self._first(L_WAITING)
                or self._first(L_HELD) or self._first(L_HOLDING))

    # -- outputs ------------------------------------------------------------------------------

    def _queue(self, output):
        self._out.append(output)

    def _sync(self, now):
        """Queue the tone, ringer, LED and screen changes the state asks for."""
        tone = self._wanted_tone()
        if tone != self._tone:
            self._tone = tone
            self._queue(StopTone() if tone is None else PlayTone(tone, tones.tone(self.region,
                                                                                  tone)))
        ringing = self.mode == RINGING
        if ringing != self._ringing:
            self._ringing = ringing
            self._queue(RingerOn(self.region, self.ring_cadence) if ringing else RingerOff())
        for name, state in self._wanted_leds():
            if self._leds.get(name) != state:
                self._leds[name] = state
                self._queue(SetLed(name, state))
        if self.screen.show(self._view(now)):
            self._queue(ShowScreen(self.screen.lines))

    def _wanted_tone(self):
        mode = self.mode
        if mode == DIALTONE:
            return tones.DIAL
        if mode == CALLING:
            current = self._current()
            if current is not None and current.state == L_ALERTING and not current.early_media:
                return tones.RINGBACK
            return None
        if mode == TALKING:
            return tones.CALL_WAITING if self._first(L_WAITING) is not None else None
        if mode == NOTICE:
            return self.notice[2] if self.notice is not None else None
        return None

    def _wanted_leds(self):
        held = self._current() is None and (self._first(L_HELD) or self._first(L_HOLDING))
        if held:
            line = LED_BLINK
        else:
            line = LED_ON if self.lifted else LED_OFF
        ringing = self.mode == RINGING or self._first(L_WAITING) is not None
        message = self.message_waiting or self.log.unseen_missed() > 0
        return ((LED_LINE, line), (LED_RINGING, LED_BLINK if ringing else LED_OFF),
                (LED_MESSAGE, LED_BLINK if message else LED_OFF))

    def _view(self, now):
        mode = self.mode
        if mode == IDLE:
            return scr.idle_view(self.display_name or self.user, self.registration,
                                 self.wall_now(now), self.dnd, self.log.unseen_missed(),
                                 self.registration_problem)
        if mode == RINGING:
            line = self._ringing_line()
            title = "Call on hold" if line.state in _ON_HOLD else "Incoming call"
            return scr.ringing_view(title, line.party, line.detail)
        if mode in (DIALTONE, DIALING):
            return scr.dialing_view(self.keys, "DND" if self.dnd else "")
        if mode == CALLING:
            line = self._current()
            status = "Ringing" if line.state == L_ALERTING else "Calling"
            return scr.calling_view(status, line.party, line.detail)
        waiting = self._first(L_WAITING)
        waiting_party = waiting.party if waiting is not None else ""
        if mode == NOTICE:
            title, reason, _ = self.notice
            rows = scr.notice_view(title, reason)
            if waiting is not None:
                # the waiting caller takes the second line, as in a call
                rows.insert(1, scr.Row(scr.SECOND, "Waiting: " + waiting_party))
            held = self._first(L_HELD) or self._first(L_HOLDING)
            if held is not None:
                rows.append(scr.Row(scr.FOURTH, "Held: " + held.party))
            return rows
        current = self._current()
        held = self._first(L_HELD) or self._first(L_HOLDING)
        if current is None:
            # only calls on hold (or waiting) remain: show the held one
            shown = held or waiting
            return scr.talking_view(shown.party, self._elapsed(shown, now), "On hold",
                                    waiting_party if shown is not waiting else "",
                                    detail=shown.detail)
        status = current.note
        if current.state == L_ANSWERING:
            status = "Connecting"
        elif current.state == L_RESUMING:
            status = "Resuming"
        return scr.talking_view(current.party, self._elapsed(current, now), status,
                                waiting_party, held.party if held is not None else "",
                                current.detail)

    def _elapsed(self, line, now):
        if line.connected_at is None:
            return None
        return int(now - line.connected_at)

    def _call_timer_deadline(self):
        if self.mode != TALKING:
            return None
        line = self._current() or self._first(L_HELD) or self._first(L_HOLDING)
        if line is None or line.connected_at is None:
            return None
        return line.connected_at + int(self.now - line.connected_at) + 1

    def _clock_deadline(self):
        if self.mode != IDLE or self.wall is None:
            return None
        into_minute = (self.wall[5] + (self.now - self.wall_at)) % 60
        return self.now + 60 - into_minute
