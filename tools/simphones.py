"""Simulated phones in one process: the firmware on simulated boards, driven by scripts.

Rule: each ``SimPhone`` is the firmware's own runtime, unchanged: a
``Phone`` (SIP over real sockets to a real proxy), and, when it has a
handset, the board's drivers on a simulated backend with the handset
application on top (firmware/runtime/handset.py, as ``python -m firmware``
runs it on a board). The script acts only where a person or an API user
would: on the back door of the simulated board (keys, hook switch; the
display, LEDs and ringer are read off the modelled copper) or on call
control. Every event of every phone is printed as ``SECONDS [NAME: ]EVENT
details`` and logged per phone for ``wait``/``expect`` (tools/scenario.py).

    phones = [SimPhone("alice", config_a, board, out), SimPhone("bob", ...)]
    run = ScriptRun(phones, out)
    await run.run(commands)       # ScenarioFailed when an expectation fails
"""

import asyncio
import os
import random
import socket

from firmware import compat
from firmware.drivers import leds as led_patterns
from firmware.runtime import media as media_path
from firmware.runtime.board import open_backend
from firmware.runtime.handset import attach_board
from firmware.runtime.phone import Phone
from tools.scenario import EventLog

POLL_S = 0.005
KEY_TIMEOUT_S = 1.0        # a key press the keypad scan does not see by then is a failure
BLINK_WINDOW_S = 2.5       # long enough to see both levels of the slowest LED pattern


RTP_BLOCK = 200           # the user agent takes RTP ports base + 2k, k < 100
DOMAIN = "example.test"
PROXY_HOSTNAME = "proxy.test"


class ScenarioFailed(Exception):
    pass


def _udp_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def rtp_bases(count, low=20000, high=60000):
    """``count`` RTP base ports on 127.0.0.1 in separate blocks of RTP_BLOCK ports,
    each with its first RTP/RTCP pairs free now (the phones of one process must
    not share ports)."""
    blocks = list(range(low, high - RTP_BLOCK, RTP_BLOCK))
    random.shuffle(blocks)
    bases = []
    for base in blocks:
        if all(_udp_free(base + i) for i in range(4)):
            bases.append(base)
            if len(bases) == count:
                return bases
    raise RuntimeError("no free RTP ports on 127.0.0.1")


def phone_config(user, password, proxy_port, ca_file, rtp_port, display_name="",
                 domain=DOMAIN, hostname=PROXY_HOSTNAME, **phone):
    """A configuration document for a simulated phone on 127.0.0.1 registering
    ``user`` through the TLS proxy at 127.0.0.1:``proxy_port`` (persistent
    connection: address and hostname both given); ``phone`` fills the phone
    section (call_log_file, dnd, dial_plan...)."""
    return {
        "account": {"user": user, "password": password, "domain": domain,
                    "display_name": display_name},
        "outbound_proxy": {"address": "127.0.0.1", "hostname": hostname, "port": proxy_port,
                           "transport": "tls"},
        "tls": {"ca_file": ca_file},
        "listen": {"address": "127.0.0.1", "udp_port": 0, "tls_port": 0},
        "media": {"rtp_port": rtp_port},
        "phone": dict(phone),
    }


class Output:
    """Where a run prints: ``SECONDS text`` lines, times from one start."""

    def __init__(self, out, start=None):
        self.out = out
        self.start = compat.monotonic() if start is None else start
        self.listeners = []       # callables (phone, event) told of every phone event

    def elapsed(self, at=None):
        return (compat.monotonic() if at is None else at) - self.start

    def say(self, text, at=None):
        if self.out is None:
            return
        self.out.write("%.3f %s\n" % (self.elapsed(at), text))
        self.out.flush()


class SimPhone:
    """One simulated phone. ``name`` None: the only phone of a run (no prefix)."""

    def __init__(self, name, config, board, output, handset=True, log_sip=False,
                 capture=None, playback=None, quiet=False):
        self.name = name
        self.config = config
        self.board = board
        self.output = output
        self.handset = handset
        self.log_sip = log_sip
        self.capture = capture
        self.playback = playback
        self.quiet = quiet        # events are logged but not printed
        self.prefix = "%s: " % name if name else ""
        self.log = EventLog()
        self.phone = Phone(config, on_event=self._on_event,
                           on_sip=self._on_sip if log_sip else None,
                           keylog_file=os.environ.get("SSLKEYLOGFILE"))
        self.backend = open_backend(board, clock=self.phone.clock)
        self.runtime = None
        self.task = None
        self.offered = []           # call control use: calls offered to us, newest last
        self.active = []            # calls not yet released, newest last
        self.release_after_drop = set()

    def __repr__(self):
        return "SimPhone(%s)" % (self.name or "phone")

    # -- life cycle ----------------------------------------------------------------------

    async def start(self):
        if self.handset:
            self.runtime = attach_board(self.phone, self.board, self.backend, self.capture,
                                        self.playback)
        elif self.capture or self.playback:
            # the board's simulated sound card, on the phone's (real) clock
            audio = self.board.data["audio"]
            device = self.backend.audio(self.capture or audio["capture"],
                                        self.playback or audio["playback"])
            media_path.attach(self.phone, self.board, device)
        self.task = asyncio.create_task(self.phone.run())
        while not self.phone.started and not self.task.done():
            await asyncio.sleep(0)
        if self.task.done():
            self.task.result()      # the phone could not start: raise why
        return self

    async def stop(self):
        if self.task is None:
            return
        self.phone.stop()
        await self.task
        self.task = None

    # -- what the phone reports ------------------------------------------------------------

    def _on_event(self, event):
        if not self.quiet:
            self.output.say(self.prefix + str(event), event.time)
        self.log.add(self.output.elapsed(event.time), event.name, event.details)
        for listener in self.output.listeners:
            listener(self, event)
        call = event.call
        if call is None or self.handset:
            return
        if event.name == "OFFERED":
            self.offered.append(call)
        if event.name in ("OFFERED", "DIALING", "PROCEEDING") and call not in self.active:
            self.active.append(call)
        if event.name == "DROPCALL" and call in self.release_after_drop:
            self.release_after_drop.discard(call)
            self.phone.calls.release_call(call, now=self.phone.clock())
            self.phone.poke()
        if event.name == "RELEASECALL":
            if call in self.active:
                self.active.remove(call)
            if call in self.offered:
                self.offered.remove(call)

    def _on_sip(self, direction, peer, data):
        text = data.decode("utf-8", "replace").replace("\r\n", "\n").rstrip("\n")
        arrow = "sent to" if direction == ">" else "received from"
        self.output.say("%sSIP %s %s\n%s\n" % (self.prefix, arrow, peer, text))

    # -- a person at the phone ---------------------------------------------------------------

    def _need_handset(self, what):
        if self.runtime is None:
            raise ScenarioFailed("%s: %sthis phone runs without its handset" % (what,
                                                                                 self.prefix))

    async def offhook(self):
        self._need_handset("offhook")
        self.backend.lift()
        await self._until(lambda: self.runtime.hw.hook.off_hook, KEY_TIMEOUT_S,
                          "the hook switch did not report the handset lifted")

    async def onhook(self):
        self._need_handset("onhook")
        self.backend.hang_up()
        await self._until(lambda: not self.runtime.hw.hook.off_hook, KEY_TIMEOUT_S,
                          "the hook switch did not report the handset down")

    async def press(self, keys):
        """Press and release each key in turn, each held until the keypad scan
        has seen it (debounced) and released until it has seen that too."""
        self._need_handset("press")
        keypad = self.runtime.hw.keypad
        for key in keys:
            self.backend.press(key)
            try:
                await self._until(lambda key=key: key in keypad.pressed(), KEY_TIMEOUT_S,
                                  "key %s: the keypad scan did not see it pressed" % key)
            finally:
                self.backend.release(key)
            await self._until(lambda key=key: key not in keypad.pressed(), KEY_TIMEOUT_S,
                              "key %s: the keypad scan did not see it released" % key)

    def keys(self):
        """Every key of the board's keypad."""
        return list(self.backend.keys.keys())

    def screen(self):
        """The display as a person reads it (the simulated module's own decoding)."""
        return self.backend.screen_text()

    # -- call control, as an API user ---------------------------------------------------------

    def register(self):
        self.phone.ua.register(self.phone.clock())

    def call(self, uri):
        call = self.phone.calls.make_call(uri, now=self.phone.clock())
        if isinstance(call, int) and call not in self.active:
            self.active.append(call)

    def answer(self):
        if not self.offered:
            raise ScenarioFailed("answer: no call is being offered")
        self.phone.calls.answer_call(self.offered[-1], now=self.phone.clock())

    def hangup(self):
        if not self.active:
            raise ScenarioFailed("hangup: no call to hang up")
        call = self.active[-1]
        self.release_after_drop.add(call)
        self.phone.calls.drop_call(call, now=self.phone.clock())

    def hold(self):
        if not self.active:
            raise ScenarioFailed("hold: no call")
        self.phone.calls.hold_call(self.active[-1], now=self.phone.clock())

    def resume(self):
        if not self.active:
            raise ScenarioFailed("resume: no call")
        self.phone.calls.resume_call(self.active[-1], now=self.phone.clock())

    # -- expectations ---------------------------------------------------------------------------

    async def _until(self, condition, timeout, failure):
        deadline = compat.monotonic() + timeout
        while not condition():
            if compat.monotonic() >= deadline:
                raise ScenarioFailed(self.prefix + failure)
            await asyncio.sleep(POLL_S)

    async def verify(self, check):
        """Wait until ``check`` (a tools.scenario.Check) holds, or ScenarioFailed."""
        kind = check.kind
        if kind == "event":
            found = []

            def taken():
                if not found:
                    event = self.log.take(check.what)
                    if event is not None:
                        found.append(event)
                return bool(found)
            await self._until(taken, check.timeout, "%s did not happen within %g s"
                              % (check.what, check.timeout))
            return
        self._need_handset(check.describe())
        if kind == "led":
            await self._verify_led(check)
            return
        if kind == "display":
            condition = self._shows(check.what)
        elif kind == "tone":
            wanted = None if check.what == "none" else check.what
            condition = lambda: self.runtime.tone == wanted  # noqa: E731
        else:
            ringer = self.runtime.hw.ringer
            if ringer is None:
                raise ScenarioFailed("%sthis board has no ringer" % self.prefix)
            wanted = check.what == "on"
            condition = lambda: ringer.ringing == wanted  # noqa: E731
        await self._until(condition, check.timeout, self._failure(check))

    def _shows(self, text):
        return lambda: any(text in line for line in self.screen())

    def _failure(self, check):
        if check.kind == "display":
            now = " | ".join(line.rstrip() for line in self.screen())
            seen = "the display shows [%s]" % now
        elif check.kind == "tone":
            seen = "the tone is %s" % (self.runtime.tone or "none")
        elif check.kind == "ringer":
            seen = "the ringer is %s" % ("on" if self.runtime.hw.ringer.ringing else "off")
        else:
            seen = ""
        within = " within %g s" % check.timeout if check.timeout else ""
        return "expected %s%s; %s" % (check.describe(), within, seen)

    async def _verify_led(self, check):
        """An LED's state as its pin shows it: on and off are steady levels (the
        driver holds no cadence), blink is both levels seen within a window."""
        name, state = check.what
        leds = self.runtime.hw.leds
        if leds is None or name not in leds.names():
            raise ScenarioFailed("%sthis board has no LED named %s" % (self.prefix, name))
        deadline = compat.monotonic() + check.timeout
        seen = set()
        window_end = None
        while True:
            pattern = leds.pattern(name)
            lit = self.backend.led(name)
            steady = pattern in (led_patterns.ON, led_patterns.OFF)
            if state == "blink":
                if steady:
                    seen = set()
                    window_end = None
                else:
                    if window_end is None:
                        window_end = compat.monotonic() + BLINK_WINDOW_S
                    seen.add(lit)
                    if len(seen) == 2:
                        return
            elif steady and lit == (state == "on"):
                return
            now = compat.monotonic()
            if now >= deadline and (window_end is None or now >= window_end):
                shown = "blinking" if not steady else ("on" if lit else "off")
                raise ScenarioFailed("%sexpected led %s %s; it is %s" % (self.prefix, name,
                                                                         state, shown))
            await asyncio.sleep(POLL_S)


class ScriptRun:
    """Run parsed script commands (tools/scenario.py) against named phones."""

    def __init__(self, phones, output):
        self.phones = list(phones)
        self.output = output

    def phone(self, name):
        for phone in self.phones:
            if phone.name == name:
                return phone
        if name is None and len(self.phones) == 1:
            return self.phones[0]
        raise ScenarioFailed("no phone %r" % name)

    async def start(self):
        for phone in self.phones:
            await phone.start()

    async def stop(self):
        for phone in self.phones:
            await phone.stop()

    async def run(self, commands, stop=True):
        """Start the phones (unless started), run ``commands``, stop the phones."""
        try:
            for phone in self.phones:
                if phone.task is None:
                    await phone.start()
            for command in commands:
                prefix = "%s: " % command.phone if command.phone and len(self.phones) > 1 \
                    else ""
                self.output.say("> " + prefix + command.text)
                if command.name == "quit":
                    break
                await self.execute(command)
        finally:
            if stop:
                await self.stop()

    async def execute(self, command):
        name = command.name
        if name == "sleep":
            await asyncio.sleep(float(command.args[0]))
            return
        phone = self.phone(command.phone)
        if name in ("wait", "expect"):
            await phone.verify(command.check)
        elif name == "press":
            await phone.press(command.keys)
        elif name == "offhook":
            await phone.offhook()
        elif name == "onhook":
            await phone.onhook()
        elif name == "call":
            phone.call(command.args[0])
        else:
            getattr(phone, name)()
        phone.phone.poke()
