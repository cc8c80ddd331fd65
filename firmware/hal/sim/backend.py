"""The simulated board: the wiring a board file describes, plus a back door.

Rule: the firmware side (``pin``, ``uart``, ``audio``) is the ``hal.api``
contract and nothing more; the back door (``press``, ``release``, ``lift``,
``hang_up``, ``screen_text``, ``led``, ``ringer_on``, time control) is for
tests and the simulator only and acts on the model of the copper, never on a
driver's state:

- each key of the layout is a contact between its row pin and its column pin;
- the hook switch is a contact from the hook pin to ground (``active_low``) or
  to 3V3, closed while the handset is lifted;
- LEDs and the ringer are loads on output pins; ``led(name)`` is lit when its
  pin drives the active level;
- the display is a SerLCD backpack listening on the far end of a serial
  loopback opened on the board's display port.

Time is virtual: ``set_time``/``advance`` move it, or a ``clock`` callable
given to ``make_backend`` supplies it. Bounce schedules and the sound card run
on that time.
"""

from firmware.hal.api import Backend, Pin
from firmware.hal.sim.audio import SimAudio
from firmware.hal.sim.circuit import GND, VCC, Circuit
from firmware.hal.sim.serial import loopback
from firmware.hal.sim.serlcd import SerLcd

DEFAULT_BOUNCE_INTERVAL = 0.001


class SimDisplay:
    """A display module on a serial port: its receiving end plus the decoder."""

    __slots__ = ("port", "lcd", "end")

    def __init__(self, port, cols, rows, baudrate):
        self.port = port
        self.lcd = SerLcd(cols, rows, baudrate)
        self.end = None

    def attach(self, end):
        self.end = end
        end.listener = self._receive

    def _receive(self, end, data):
        # the backpack may switch speed mid-write: the rest then arrives garbled
        for i in range(len(data)):
            self.lcd.feed(data[i:i + 1])
            if self.lcd.baudrate != end.baudrate:
                end.baudrate = self.lcd.baudrate
                end.framing_errors += len(data) - i - 1
                return


class SimBackend(Backend):
    name = "sim"

    def __init__(self, board, clock=None):
        self.board = board
        self._external_clock = clock
        self.now = 0.0
        gpio = board.get("gpio", {})
        self.circuit = Circuit(gpio.get("pins", []), self.time)
        self.keys = {}
        self.hook_contact = None
        self.loads = {}
        self.displays = {}
        self.audio_devices = []
        self._wire(board)

    # -- wiring from the board data ------------------------------------

    def _wire(self, board):
        keypad = board.get("keypad")
        if keypad:
            rows = keypad["rows"]
            columns = keypad["columns"]
            for r, names in enumerate(keypad["layout"]):
                for c, key in enumerate(names):
                    self.keys[key] = self.circuit.add_contact(rows[r], columns[c])
        hook = board.get("hook")
        if hook:
            rail = GND if hook["active_low"] else VCC
            self.hook_contact = self.circuit.add_contact(hook["pin"], rail)
        for name, led in board.get("leds", {}).items():
            self.loads["led:" + name] = (led["pin"], led["active_low"])
        ringer = board.get("ringer")
        if ringer:
            self.loads["ringer"] = (ringer["pin"], ringer["active_low"])
        display = board.get("display")
        if display:
            self.displays[display["port"]] = SimDisplay(
                display["port"], display["cols"], display["rows"], display["baudrate"]
            )

    # -- the hal.api contract --------------------------------------------

    def time(self):
        if self._external_clock is not None:
            return self._external_clock()
        return self.now

    def pin(self, number, mode=Pin.IN, pull=None, value=None):
        pin = self.circuit.pin(number)
        pin.init(mode, pull, value)
        return pin

    def uart(self, port, baudrate):
        device = self.displays.get(port)
        if device is None:
            raise OSError("no serial port %r on the simulated board" % (port,))
        mine, theirs = loopback(baudrate, device.lcd.baudrate)
        device.attach(theirs)
        return mine

    def audio(self, capture, playback):
        device = SimAudio(capture, playback, self.time)
        self.audio_devices.append(device)
        return device

    def close(self):
        for device in self.audio_devices:
            device.close()

    # -- back door: time ------------------------------------------------

    def set_time(self, now):
        if self._external_clock is not None:
            raise RuntimeError("this simulated board follows an external clock")
        self.now = now

    def advance(self, seconds):
        self.set_time(self.now + seconds)

    # -- back door: hands on the phone ----------------------------------

    def press(self, key, bounce=0, interval=DEFAULT_BOUNCE_INTERVAL):
        self._key(key).move(True, self.time(), bounce, interval)

    def release(self, key, bounce=0, interval=DEFAULT_BOUNCE_INTERVAL):
        self._key(key).move(False, self.time(), bounce, interval)

    def is_pressed(self, key):
        return self._key(key).rest

    def lift(self, bounce=0, interval=DEFAULT_BOUNCE_INTERVAL):
        self._hook().move(True, self.time(), bounce, interval)

    def hang_up(self, bounce=0, interval=DEFAULT_BOUNCE_INTERVAL):
        self._hook().move(False, self.time(), bounce, interval)

    def is_off_hook(self):
        return self._hook().rest

    def _key(self, key):
        contact = self.keys.get(key)
        if contact is None:
            raise ValueError("no key %r on this keypad" % (key,))
        return contact

    def _hook(self):
        if self.hook_contact is None:
            raise ValueError("this board has no hook switch")
        return self.hook_contact

    # -- back door: what a person sees and hears ------------------------

    def _load_on(self, load):
        wiring = self.loads.get(load)
        if wiring is None:
            raise ValueError("no %s on this board" % load.replace(":", " "))
        number, active_low = wiring
        level = self.circuit.output_level(number)
        if level is None:
            return False
        return level == (0 if active_low else 1)

    def led(self, name):
        return self._load_on("led:" + name)

    def ringer_on(self):
        return self._load_on("ringer")

    def display(self, port=None):
        """The display module (decoder state: backlight, cursor, counters)."""
        if port is None:
            if len(self.displays) != 1:
                raise ValueError("say which display port")
            for device in self.displays.values():
                port = device.port
        return self.displays[port]

    def screen_text(self, port=None):
        return self.display(port).lcd.lines()

    def pin_level(self, number):
        """The level on a line as a meter would show it, without disturbing it."""
        return self.circuit.level(number, probe=True)

    @property
    def shorts(self):
        return self.circuit.shorts

    @property
    def floating_reads(self):
        return self.circuit.floating_reads


def make_backend(board, clock=None):
    return SimBackend(board, clock)
