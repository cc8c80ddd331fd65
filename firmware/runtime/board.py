"""Board files: load, validate, open the named backend, wire the drivers.

Rule: a board file is data only (boards/README.md is its schema). It is
checked completely before anything starts, and every mistake is reported at
once with its path (``keypad.rows[2]: pin 99 is not a GPIO pin of this
board``), so one edit fixes them all. The hardware backend is imported by the
name the board gives (``firmware.hal.<backend>``), never statically, so the
simulator never loads RPi.GPIO and the board never loads the simulator.
Drivers get pin, Signal and UART objects; pin numbers stop here.
"""

import json

from firmware.drivers.display import CharDisplay
from firmware.drivers.hook import HookSwitch
from firmware.drivers.keypad import Keypad
from firmware.drivers.leds import Leds
from firmware.drivers.ringer import Ringer
from firmware.hal.api import Pin, Signal

BACKENDS = ("rpi", "sim")
HARDWARE_FEATURES = ("leds", "ringer", "display", "audio")
FEATURES = HARDWARE_FEATURES + ("speakerphone", "headset")
PULLS = ("up", "down", "none")
DISPLAY_PROTOCOLS = ("serlcd",)
DISPLAY_BAUDRATES = (2400, 4800, 9600, 14400, 19200, 38400)
DISPLAY_COLS = (8, 16, 20, 24, 40)
DISPLAY_ROWS = (1, 2, 4)
AUDIO_RATES = (8000, 16000, 32000, 44100, 48000)
AUDIO_PERIODS_MS = (10, 20, 30, 40)
HOOK_SAMPLE_INTERVAL = 0.005

_TOP_KEYS = ("name", "description", "backend", "gpio", "keypad", "hook", "leds",
             "ringer", "display", "audio", "features")


class BoardError(Exception):
    """A board file that cannot be used; ``errors`` lists every problem."""

    def __init__(self, source, errors):
        self.source = source
        self.errors = list(errors)
        lines = ["%s: %d problem%s" % (source, len(errors), "" if len(errors) == 1 else "s")]
        for error in errors:
            lines.append("  " + error)
        super().__init__("\n".join(lines))


class Board:
    """A validated board: ``data`` is the file's content with defaults filled in."""

    __slots__ = ("name", "backend", "data", "source")

    def __init__(self, data, source):
        self.name = data["name"]
        self.backend = data["backend"]
        self.data = data
        self.source = source

    def has(self, feature):
        return feature in self.data["features"]


# -- checking ------------------------------------------------------------


def _type_name(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_identifier(text):
    if not text or not ("a" <= text[0] <= "z"):
        return False
    for ch in text:
        if not ("a" <= ch <= "z" or "0" <= ch <= "9" or ch == "_"):
            return False
    return True


class _Checker:
    """Walks the board data, collecting ``path: problem`` strings."""

    def __init__(self):
        self.errors = []
        self.gpio = None      # list of pin numbers, or None if gpio is unusable
        self.reserved = []    # (pin, purpose)
        self.used = []        # (pin, path)

    def error(self, path, message):
        self.errors.append("%s: %s" % (path or "(board)", message))

    def object(self, data, path, allowed, required=()):
        if not isinstance(data, dict):
            self.error(path, "must be an object, got %s" % _type_name(data))
            return False
        for key in sorted(data.keys()):
            if key not in allowed:
                self.error(_join(path, key), "unknown key (expected one of: %s)"
                           % ", ".join(allowed))
        for key in required:
            if key not in data:
                self.error(_join(path, key), "missing")
        return True

    def string(self, data, key, path, choices=None, required=True):
        if key not in data:
            return None
        value = data[key]
        where = _join(path, key)
        if not isinstance(value, str) or (required and not value):
            self.error(where, "must be a non-empty string, got %s" % _show(value))
            return None
        if choices is not None and value not in choices:
            self.error(where, "must be one of %s, got %s" % (_choices(choices), _show(value)))
            return None
        return value

    def boolean(self, data, key, path):
        if key in data and not isinstance(data[key], bool):
            self.error(_join(path, key), "must be true or false, got %s" % _show(data[key]))

    def number(self, data, key, path, low, high, integer=False, choices=None):
        if key not in data:
            return
        value = data[key]
        where = _join(path, key)
        if not (_is_int(value) if integer else _is_number(value)):
            kind = "an integer" if integer else "a number"
            self.error(where, "must be %s, got %s" % (kind, _show(value)))
        elif choices is not None and value not in choices:
            self.error(where, "must be one of %s, got %s" % (_choices(choices), _show(value)))
        elif choices is None and not low <= value <= high:
            self.error(where, "must be %s..%s, got %s" % (low, high, _show(value)))

    def pin(self, value, path):
        if not _is_int(value):
            self.error(path, "must be a pin number (an integer), got %s" % _show(value))
            return
        if self.gpio is None:
            return
        if value not in self.gpio:
            self.error(path, "pin %d is not a GPIO pin of this board" % value)
            return
        for pin, purpose in self.reserved:
            if pin == value:
                self.error(path, "pin %d is reserved for %s" % (value, purpose))
                return
        for pin, owner in self.used:
            if pin == value:
                self.error(path, "pin %d is already used by %s" % (value, owner))
                return
        self.used.append((value, path))

    def pin_list(self, data, key, path, most):
        if key not in data:
            return 0
        value = data[key]
        where = _join(path, key)
        if not isinstance(value, list) or not value:
            self.error(where, "must be a non-empty list of pin numbers, got %s" % _show(value))
            return 0
        if len(value) > most:
            self.error(where, "at most %d pins, got %d" % (most, len(value)))
        for i, pin in enumerate(value):
            self.pin(pin, "%s[%d]" % (where, i))
        return len(value)


def _join(path, key):
    return key if not path else path + "." + key


def _show(value):
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, dict)):
        return "a " + _type_name(value)
    return "%s %s" % (_type_name(value), json.dumps(value))


def _choices(choices):
    return ", ".join(json.dumps(c) for c in choices)


def _check_gpio(c, data):
    if "gpio" not in data:
        return
    gpio = data["gpio"]
    if not c.object(gpio, "gpio", ("numbering", "pins", "reserved"), ("pins",)):
        return
    c.string(gpio, "numbering", "gpio")
    pins = gpio.get("pins")
    if pins is None:
        return
    if not isinstance(pins, list) or not pins:
        c.error("gpio.pins", "must be a non-empty list of pin numbers, got %s" % _show(pins))
        return
    good = []
    for i, pin in enumerate(pins):
        if not _is_int(pin) or pin < 0:
            c.error("gpio.pins[%d]" % i, "must be a pin number (an integer >= 0), got %s"
                    % _show(pin))
        elif pin in good:
            c.error("gpio.pins[%d]" % i, "pin %d is listed twice" % pin)
        else:
            good.append(pin)
    c.gpio = good
    reserved = gpio.get("reserved", [])
    if not isinstance(reserved, list):
        c.error("gpio.reserved", "must be a list, got %s" % _show(reserved))
        return
    for i, block in enumerate(reserved):
        where = "gpio.reserved[%d]" % i
        if not c.object(block, where, ("pins", "for"), ("pins", "for")):
            continue
        purpose = c.string(block, "for", where) or "another use"
        numbers = block.get("pins")
        if not isinstance(numbers, list):
            if numbers is not None:
                c.error(where + ".pins", "must be a list of pin numbers, got %s" % _show(numbers))
            continue
        for j, pin in enumerate(numbers):
            if not _is_int(pin):
                c.error("%s.pins[%d]" % (where, j), "must be a pin number (an integer), got %s"
                        % _show(pin))
            elif pin not in good:
                c.error("%s.pins[%d]" % (where, j), "pin %d is not a GPIO pin of this board" % pin)
            else:
                c.reserved.append((pin, purpose))


def _check_keypad(c, keypad):
    allowed = ("rows", "columns", "layout", "active_low", "pull", "scan_interval_ms",
               "debounce_scans")
    if not c.object(keypad, "keypad", allowed, ("rows", "columns", "layout", "active_low")):
        return
    nrows = c.pin_list(keypad, "rows", "keypad", 8)
    ncols = c.pin_list(keypad, "columns", "keypad", 8)
    c.boolean(keypad, "active_low", "keypad")
    c.string(keypad, "pull", "keypad", PULLS)
    c.number(keypad, "scan_interval_ms", "keypad", 1, 100)
    c.number(keypad, "debounce_scans", "keypad", 1, 10, integer=True)
    if "layout" not in keypad:
        return
    layout = keypad["layout"]
    if not isinstance(layout, list):
        c.error("keypad.layout", "must be a list of rows of key names, got %s" % _show(layout))
        return
    if nrows and len(layout) != nrows:
        c.error("keypad.layout", "has %d rows but keypad.rows lists %d pins"
                % (len(layout), nrows))
    seen = []
    for r, names in enumerate(layout):
        where = "keypad.layout[%d]" % r
        if not isinstance(names, list):
            c.error(where, "must be a list of key names, got %s" % _show(names))
            continue
        if ncols and len(names) != ncols:
            c.error(where, "has %d keys but keypad.columns lists %d pins" % (len(names), ncols))
        for k, name in enumerate(names):
            at = "%s[%d]" % (where, k)
            if not isinstance(name, str) or not name:
                c.error(at, "must be a non-empty key name, got %s" % _show(name))
                continue
            for other, other_at in seen:
                if other == name:
                    c.error(at, "key %s is already at %s" % (json.dumps(name), other_at))
                    break
            else:
                seen.append((name, at))


def _check_switch(c, data, path, extra=()):
    allowed = ("pin", "active_low") + extra
    if not c.object(data, path, allowed, ("pin", "active_low")):
        return
    if "pin" in data:
        c.pin(data["pin"], path + ".pin")
    c.boolean(data, "active_low", path)


def _check_hook(c, hook):
    _check_switch(c, hook, "hook", ("pull", "debounce_ms"))
    if isinstance(hook, dict):
        c.string(hook, "pull", "hook", PULLS)
        c.number(hook, "debounce_ms", "hook", 1, 500)


def _check_leds(c, leds):
    if not isinstance(leds, dict):
        c.error("leds", "must be an object of LED name to wiring, got %s" % _show(leds))
        return
    if not leds:
        c.error("leds", "must name at least one LED (or leave the section out)")
    for name in sorted(leds.keys()):
        where = "leds." + name
        if not _is_identifier(name):
            c.error(where, "an LED name is lower-case letters, digits and _")
        _check_switch(c, leds[name], where)


def _check_display(c, display):
    allowed = ("port", "baudrate", "cols", "rows", "protocol")
    if not c.object(display, "display", allowed, ("port", "baudrate", "cols", "rows")):
        return
    c.string(display, "port", "display")
    c.string(display, "protocol", "display", DISPLAY_PROTOCOLS)
    c.number(display, "baudrate", "display", 0, 0, True, DISPLAY_BAUDRATES)
    c.number(display, "cols", "display", 0, 0, True, DISPLAY_COLS)
    c.number(display, "rows", "display", 0, 0, True, DISPLAY_ROWS)
    if display.get("rows") == 4 and _is_int(display.get("cols")) and display["cols"] > 20:
        c.error("display.cols", "a 4-row HD44780 module is at most 20 columns wide")


def _check_audio(c, audio):
    allowed = ("capture", "playback", "rate", "period_ms")
    if not c.object(audio, "audio", allowed, ("capture", "playback", "rate")):
        return
    c.string(audio, "capture", "audio")
    c.string(audio, "playback", "audio")
    c.number(audio, "rate", "audio", 0, 0, True, AUDIO_RATES)
    c.number(audio, "period_ms", "audio", 0, 0, True, AUDIO_PERIODS_MS)


def _check_features(c, data):
    features = data.get("features", [])
    if not isinstance(features, list):
        c.error("features", "must be a list of feature names, got %s" % _show(features))
        return
    listed = []
    for i, feature in enumerate(features):
        where = "features[%d]" % i
        if feature not in FEATURES:
            c.error(where, "unknown feature %s (known: %s)" % (_show(feature), _choices(FEATURES)))
        elif feature in listed:
            c.error(where, "%s is listed twice" % json.dumps(feature))
        else:
            listed.append(feature)
    for feature in HARDWARE_FEATURES:
        if feature in listed and feature not in data:
            c.error(feature, "missing (features lists %s)" % json.dumps(feature))


def check_board(data):
    """Every problem of board ``data`` as ``path: message`` strings (empty if fine)."""
    c = _Checker()
    if not c.object(data, "", _TOP_KEYS, ("name", "backend", "gpio", "keypad", "hook")):
        return c.errors
    c.string(data, "name", "")
    c.string(data, "description", "", required=False)
    c.string(data, "backend", "", BACKENDS)
    _check_gpio(c, data)
    # pins are claimed in this order, so "already used by" names the earlier function
    if "keypad" in data:
        _check_keypad(c, data["keypad"])
    if "hook" in data:
        _check_hook(c, data["hook"])
    if "leds" in data:
        _check_leds(c, data["leds"])
    if "ringer" in data:
        _check_switch(c, data["ringer"], "ringer")
    if "display" in data:
        _check_display(c, data["display"])
    if "audio" in data:
        _check_audio(c, data["audio"])
    _check_features(c, data)
    return c.errors


def _with_defaults(data):
    """A copy of valid board data with every optional setting filled in."""
    board = json.loads(json.dumps(data))
    board.setdefault("description", "")
    board.setdefault("features", [])
    board.setdefault("leds", {})
    board["gpio"].setdefault("reserved", [])
    keypad = board["keypad"]
    keypad.setdefault("pull", "up" if keypad["active_low"] else "down")
    keypad.setdefault("scan_interval_ms", 10)
    keypad.setdefault("debounce_scans", 3)
    hook = board["hook"]
    hook.setdefault("pull", "up" if hook["active_low"] else "down")
    hook.setdefault("debounce_ms", 20)
    if "display" in board:
        board["display"].setdefault("protocol", "serlcd")
    if "audio" in board:
        board["audio"].setdefault("period_ms", 20)
    return board


def parse_board(data, source="board"):
    """A ``Board`` from decoded JSON data, or ``BoardError`` listing every problem."""
    errors = check_board(data)
    if errors:
        raise BoardError(source, errors)
    return Board(_with_defaults(data), source)


def load_board(path):
    """Read, decode and validate the board file at ``path``."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        raise BoardError(path, ["cannot read the file (%s)" % e]) from None
    try:
        data = json.loads(text)
    except ValueError as e:
        raise BoardError(path, ["not valid JSON (%s)" % e]) from None
    return parse_board(data, path)


# -- wiring ----------------------------------------------------------------


def open_backend(board, **options):
    """Import ``firmware.hal.<board.backend>`` by name and make its backend."""
    if board.backend not in BACKENDS:
        raise BoardError(board.source, ["backend: unknown backend %r" % board.backend])
    module = __import__("firmware.hal." + board.backend)
    for part in ("hal", board.backend):
        module = getattr(module, part)
    return module.make_backend(board.data, **options)


def _pull(name):
    if name == "up":
        return Pin.PULL_UP
    if name == "down":
        return Pin.PULL_DOWN
    return None


class Hardware:
    """The drivers of one board, wired. Absent parts are None."""

    def __init__(self, board, backend):
        self.board = board
        self.backend = backend
        self.keypad = None
        self.hook = None
        self.leds = None
        self.ringer = None
        self.display = None
        self._audio = None

    def start(self, backlight=1.0):
        """Bring the display to a known state (the only part that needs it)."""
        if self.display is not None:
            self.display.start(backlight)

    def tick(self, now):
        """Run every driver due at ``now``; returns keypad and hook events."""
        events = self.keypad.tick(now)
        events.extend(self.hook.tick(now))
        if self.leds is not None:
            self.leds.tick(now)
        if self.ringer is not None:
            self.ringer.tick(now)
        return events

    def next_deadline(self):
        soonest = None
        for driver in (self.keypad, self.hook, self.leds, self.ringer):
            if driver is None:
                continue
            at = driver.next_deadline()
            if at is not None and (soonest is None or at < soonest):
                soonest = at
        return soonest

    def audio_device(self):
        """The board's (unopened) audio device, made on first use."""
        if self._audio is None:
            if not self.board.has("audio"):
                raise ValueError("board %s has no audio feature" % self.board.name)
            audio = self.board.data["audio"]
            self._audio = self.backend.audio(audio["capture"], audio["playback"])
        return self._audio

    def close(self):
        if self.ringer is not None:
            self.ringer.stop()
        self.backend.close()


def build_hardware(board, backend, now=0.0):
    """Make the pins, signals and UART of ``board`` on ``backend`` and the
    drivers over them. Only features the board lists are built."""
    data = board.data
    hw = Hardware(board, backend)

    keypad = data["keypad"]
    rows = [backend.pin(n, Pin.IN) for n in keypad["rows"]]
    columns = [backend.pin(n, Pin.IN, _pull(keypad["pull"])) for n in keypad["columns"]]
    hw.keypad = Keypad(rows, columns, keypad["layout"], keypad["active_low"],
                       keypad["scan_interval_ms"] / 1000.0, keypad["debounce_scans"], now)

    hook = data["hook"]
    hook_pin = backend.pin(hook["pin"], Pin.IN, _pull(hook["pull"]))
    samples = max(1, int(hook["debounce_ms"] / 1000.0 / HOOK_SAMPLE_INTERVAL + 0.5))
    hw.hook = HookSwitch(Signal(hook_pin, hook["active_low"]), HOOK_SAMPLE_INTERVAL,
                         samples, now)

    if board.has("leds"):
        signals = []
        for name in sorted(data["leds"].keys()):
            hw_led = data["leds"][name]
            signals.append((name, _output(backend, hw_led)))
        hw.leds = Leds(signals)

    if board.has("ringer"):
        hw.ringer = Ringer(_output(backend, data["ringer"]))

    if board.has("display"):
        display = data["display"]
        uart = backend.uart(display["port"], display["baudrate"])
        hw.display = CharDisplay(uart, display["cols"], display["rows"])
    return hw


def _output(backend, wiring):
    """An output Signal that starts at its inactive level (no flash at boot)."""
    active_low = wiring["active_low"]
    pin = backend.pin(wiring["pin"], Pin.OUT, None, 1 if active_low else 0)
    return Signal(pin, active_low)
