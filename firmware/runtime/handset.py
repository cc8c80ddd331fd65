"""The handset on a running phone: the board's drivers, the Handset application,
call control, the media path and the call-log file, wired together.

Rule: the ``Handset`` (app/handset.py) decides everything; this module only
carries its inputs in and its outputs out. One asyncio task ticks the
board's drivers on their own deadlines (keypad scan, hook sampling, LED and
ringer cadences) and the handset's (digit timeout, call timer, clock),
feeding each key and hook event to the handset; the ``Phone`` hands every
call-control event over through ``call_event``. After each input the
handset's outputs are carried out at once, in order:

    call commands     on the phone's CallControl (``handsetio.run_commands``)
    ShowScreen        the character display driver (only what changed is sent)
    SetLed            the LED driver: on, off, or blink as the LED's pattern
                      (ringing BLINK_FAST, line BLINK_SLOW, message FLASH)
    RingerOn/Off      the ringer driver, with the region's cadence
    PlayTone/StopTone the media path (runtime/media.py), else only reported
    SendDtmf          the media path (RFC 4733), else reported as not sent
    SaveCallLog       runtime/storage.py ``write_atomic`` (never in place)

and reported as phone events (``KEY key=5``, ``OFFHOOK``, ``SCREEN Dial | 2002``,
``LED name=ringing state=blink``, ``TONE name=dial``, ``RINGER state=on``,
``DTMF_SENT call=1 digit=5``, ``CALLLOG entries=3``), so the simulator and
its scenarios see what a person would. Parts the board lacks are skipped.
"""

import asyncio
import time

from firmware.app.calllog import CallLog
from firmware.app.handset import Handset
from firmware.app.handsetio import LED_BLINK, LED_LINE, LED_MESSAGE, LED_ON, LED_RINGING, \
    PlayTone, RingerOn, run_commands
from firmware.drivers import leds as led_patterns
from firmware.runtime import media as media_path
from firmware.runtime import storage
from firmware.runtime.board import build_hardware, open_backend
from firmware.runtime.phone import PhoneEvent

# What a blinking LED looks like, per LED (handsetio.py leaves it to us).
BLINK_PATTERNS = {
    LED_RINGING: led_patterns.BLINK_FAST,
    LED_LINE: led_patterns.BLINK_SLOW,
    LED_MESSAGE: led_patterns.FLASH,
}
DEFAULT_WIDTH = 16
DEFAULT_HEIGHT = 2
IDLE_WAIT_S = 1.0       # longest sleep of the tick task when no driver has a deadline


def wall_clock():
    """The time of day as the handset wants it: (year, month, day, h, m, s)."""
    return tuple(time.localtime()[:6])


def _quote(text):
    text = str(text).replace('"', "'")
    return '"%s"' % text if (" " in text or not text) else text


def screen_text(lines):
    """The display's lines for a log line: trailing blanks and empty bottom lines
    dropped, lines separated by `` | ``."""
    rows = [line.rstrip() for line in lines]
    while rows and not rows[-1]:
        rows.pop()
    return " | ".join(rows)


def load_call_log(path, capacity):
    """(CallLog, where): the log stored at ``path`` (falling back to its previous
    good copy), ``where`` "current", "previous" or None for a new, empty log."""
    if not path:
        return CallLog(capacity), None
    text, where = storage.read_good(path, CallLog.from_json)
    if text is None:
        return CallLog(capacity), None
    return CallLog.from_json(text, capacity), where


class HandsetRuntime:
    """Run a ``Handset`` on ``hardware`` (runtime/board.py ``Hardware``) for ``phone``.

    ``media`` is a runtime/media.py ``Media`` (or None: tones and DTMF are only
    reported); ``call_log_path`` is where the call log lives (None: kept in
    memory only); ``wall`` returns the time of day (None: no clock shown).
    """

    def __init__(self, phone, hardware, media=None, call_log_path=None, wall=wall_clock):
        self.phone = phone
        self.hw = hardware
        self.media = media
        self.call_log_path = call_log_path
        self.wall = wall
        self.clock = phone.clock
        self.handset = None
        self.tone = None            # the tone name being played, or None
        self.ringing = False
        self.leds = {}              # LED name -> "on", "off" or "blink", as last set
        self.saves = 0              # call-log writes done
        self.errors = 0
        self._task = None
        self._closed = False

    # -- life cycle --------------------------------------------------------------------

    def start(self, now=None, run=True):
        """Load the call log, bring up the display and the handset, and start
        ticking (from inside the running event loop; with ``run`` False the
        caller calls ``tick`` itself, as tests on a virtual clock do)."""
        now = self.clock() if now is None else now
        config = self.phone.config
        capacity = int(config.phone.call_log_size)
        log, where = load_call_log(self.call_log_path, capacity)
        display = self.hw.display
        width = display.cols if display is not None else DEFAULT_WIDTH
        height = display.rows if display is not None else DEFAULT_HEIGHT
        self.handset = Handset(config, width, height, log, now)
        self._event("CALLLOG", "entries=%d from=%s" % (len(log), where or "new"))
        self.hw.start()
        self.handset.start(now, self._wall())
        if self.hw.hook.off_hook:
            # lifted before the phone started: the hook driver reports no change
            self._event("OFFHOOK", "at=start")
            self.handset.off_hook(now)
        self._carry_out(now)
        if run:
            self._task = asyncio.create_task(self._run())
        return self

    def close(self):
        """Stop ticking and leave the ringer and the tone off (the phone stops)."""
        if self._closed:
            return
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self.hw.ringer is not None:
            self.hw.ringer.stop()
        if self.media is not None and self.tone is not None:
            self.media.stop_tone()
        self.tone = None

    # -- inputs --------------------------------------------------------------------------

    def call_event(self, event, now):
        """One call-control event, from the Phone's loop."""
        if self.handset is None or self._closed:
            return
        try:
            self.handset.call_event(event, now)
            self._carry_out(now)
        except Exception as error:  # noqa: BLE001 - the phone's loop must go on
            self._failed(error)

    def input_event(self, kind, key, now):
        """A driver event ``(kind, key)``: reported, then given to the handset."""
        if kind == "key_down":
            self._event("KEY", "key=%s" % key)
        elif kind == "off_hook":
            self._event("OFFHOOK")
        elif kind == "on_hook":
            self._event("ONHOOK")
        else:
            return
        self.handset.input_event(kind, key, now)

    async def _run(self):
        try:
            while not self._closed:
                now = self.clock()
                self.tick(now)
                deadline = self.next_deadline()
                wait = IDLE_WAIT_S if deadline is None else deadline - self.clock()
                if wait > IDLE_WAIT_S:
                    wait = IDLE_WAIT_S
                await asyncio.sleep(wait if wait > 0 else 0)
        except asyncio.CancelledError:
            return
        except Exception as error:  # noqa: BLE001 - reported; the phone goes on without it
            self._failed(error)

    def tick(self, now):
        """Run the drivers and the handset's timers due at ``now``."""
        for kind, key, at in self.hw.tick(now):
            self.input_event(kind, key, at)
        deadline = self.handset.next_deadline()
        if deadline is not None and now >= deadline:
            self.handset.on_timer(now, self._wall())
        if self._carry_out(now):
            self.phone.poke()

    def next_deadline(self):
        best = self.hw.next_deadline()
        other = self.handset.next_deadline() if self.handset is not None else None
        if other is not None and (best is None or other < best):
            best = other
        return best

    # -- outputs -----------------------------------------------------------------------

    def _carry_out(self, now):
        """Run the handset's outputs; True when call control was asked for something
        (the phone's loop then has messages to send)."""
        control = _Watched(self.phone.calls)
        for output in run_commands(self.handset, control, now):
            kind = output.kind
            if kind == "screen":
                self._show(output.lines)
            elif kind == "led":
                self._led(output.name, output.state, now)
            elif kind == "ringer":
                self._ringer(output, now)
            elif kind == "tone":
                self._tone(output, now)
            elif kind == "dtmf":
                self._dtmf(output.call, output.digit)
            elif kind == "log":
                self._save(output.text)
        return control.used

    def _show(self, lines):
        display = self.hw.display
        if display is not None:
            display.set_lines(lines)
            display.flush()
        self._event("SCREEN", screen_text(lines))

    def _led(self, name, state, now):
        self.leds[name] = state
        driver = self.hw.leds
        if driver is not None and name in driver.names():
            if state == LED_ON:
                pattern = led_patterns.ON
            elif state == LED_BLINK:
                pattern = BLINK_PATTERNS.get(name, led_patterns.BLINK_SLOW)
            else:
                pattern = led_patterns.OFF
            driver.set(name, pattern, now)
        self._event("LED", "name=%s state=%s" % (name, state))

    def _ringer(self, output, now):
        on = isinstance(output, RingerOn)
        self.ringing = on
        ringer = self.hw.ringer
        if ringer is not None:
            if on:
                ringer.start(output.cadence, now)
            else:
                ringer.stop()
        self._event("RINGER", "state=%s" % ("on" if on else "off"))

    def _tone(self, output, now):
        name = output.name if isinstance(output, PlayTone) else None
        self.tone = name
        if self.media is not None:
            if name is None:
                self.media.stop_tone(now)
            else:
                self.media.play_tone(output.tone or name, now)
        self._event("TONE", "name=%s" % (name or "none"))

    def _dtmf(self, call, digit):
        sent = self.media is not None and self.media.send_dtmf(call, digit)
        self._event("DTMF_SENT" if sent else "DTMF_NOT_SENT", "call=%s digit=%s"
                    % (call, digit), call)

    def _save(self, text):
        path = self.call_log_path
        entries = len(self.handset.log)
        if not path:
            self._event("CALLLOG", "entries=%d saved=no" % entries)
            return
        try:
            storage.write_atomic(path, text, check=CallLog.from_json)
        except OSError as error:
            self.errors += 1
            self._event("CALLLOG_ERROR", "cause=%s" % _quote("cannot write: %s" % error))
            return
        self.saves += 1
        self._event("CALLLOG", "entries=%d saved=yes" % entries)

    # -- helpers -----------------------------------------------------------------------------

    def _wall(self):
        return self.wall() if self.wall is not None else None

    def _failed(self, error):
        """A fault here must not take the phone down: report it, stop the handset."""
        self.errors += 1
        self._event("HANDSET_ERROR", "cause=%s" % _quote("%s: %s" % (type(error).__name__,
                                                                      error)))
        self.close()

    def _event(self, name, details="", call=None):
        self.phone.on_event(PhoneEvent(self.clock(), name, details, call))


class _Watched:
    """A CallControl seen through: notes whether any function was called."""

    def __init__(self, control):
        self._control = control
        self.used = False

    def __getattr__(self, name):
        self.used = True
        return getattr(self._control, name)


def attach(phone, hardware, media=None, call_log_path=None, wall=wall_clock):
    """Give ``phone`` a handset on ``hardware`` and start it (inside the running
    loop); the Phone then hands it every call event."""
    runtime = HandsetRuntime(phone, hardware, media, call_log_path, wall)
    phone.handset = runtime
    runtime.start()
    return runtime


def attach_board(phone, board, backend=None, capture=None, playback=None, call_log_path=None,
                 wall=wall_clock):
    """Wire ``board`` (a validated runtime/board.py ``Board``) into ``phone``: its
    backend on the phone's clock, its drivers, its sound card as the media path
    (unless the phone has one already; ``capture``/``playback`` override the
    board's device names) and the handset on top. The call log lives in
    ``call_log_path``, by default the configuration's ``phone.call_log_file``.
    Call from inside the running event loop; returns the HandsetRuntime."""
    if backend is None:
        backend = open_backend(board, clock=phone.clock)
    hardware = build_hardware(board, backend, phone.clock())
    media = phone.media
    if media is None and board.has("audio"):
        audio = board.data["audio"]
        device = backend.audio(capture or audio["capture"], playback or audio["playback"])
        media = media_path.attach(phone, board, device, region=phone.config.phone.region,
                                  ringback=False)
    elif media is not None:
        media.ringback = False      # the handset plays ringback itself
    if call_log_path is None:
        call_log_path = phone.config.phone.call_log_file
    return attach(phone, hardware, media, call_log_path, wall)
