# Runs on CPython only, on the board itself (RPi.GPIO, pyserial); layercheck knows hal/rpi/.
"""The ``hal.api`` contract on a Raspberry Pi, over RPi.GPIO and pyserial.

Rule: a thin translation, no policy. Numbers are BCM (the board files use BCM).
RPi.GPIO has no open-drain mode, so ``Pin.OPEN_DRAIN`` is emulated the usual
way: a 0 makes the line an output driving low, a 1 makes it an input (high
impedance). On a Pi 5, the rpi-lgpio package provides the same ``RPi.GPIO``
module. The GPIO and serial modules can be passed in, so the translation is
testable off the board.
"""

from firmware.hal.api import Backend, Pin, Uart


class RpiPin(Pin):
    __slots__ = ("gpio", "number", "mode", "pull", "out")

    def __init__(self, gpio, number):
        self.gpio = gpio
        self.number = number
        self.mode = None
        self.pull = None
        self.out = 0

    def init(self, mode, pull=None, value=None):
        self._accept(mode, pull, value)
        self._configure()

    def _pud(self):
        gpio = self.gpio
        if self.pull == Pin.PULL_UP:
            return gpio.PUD_UP
        if self.pull == Pin.PULL_DOWN:
            return gpio.PUD_DOWN
        return gpio.PUD_OFF

    def _configure(self):
        gpio = self.gpio
        if self.mode == Pin.OUT or (self.mode == Pin.OPEN_DRAIN and self.out == 0):
            gpio.setup(self.number, gpio.OUT, initial=gpio.HIGH if self.out else gpio.LOW)
        else:
            gpio.setup(self.number, gpio.IN, pull_up_down=self._pud())

    def value(self, v=None):
        if v is None:
            return 1 if self.gpio.input(self.number) else 0
        self.out = 1 if v else 0
        if self.mode == Pin.OUT:
            self.gpio.output(self.number, self.gpio.HIGH if self.out else self.gpio.LOW)
        elif self.mode == Pin.OPEN_DRAIN:
            self._configure()
        # an input only latches the value, used when it becomes an output
        return None


class RpiUart(Uart):
    """A pyserial port that never blocks on read."""

    def __init__(self, serial_module, port, baudrate):
        self.baudrate = baudrate
        self._port = serial_module.Serial(port, baudrate, timeout=0, write_timeout=2.0)

    def write(self, data):
        return self._port.write(bytes(data))

    def read(self, n=-1):
        waiting = self._port.in_waiting
        if n < 0 or n > waiting:
            n = waiting
        return self._port.read(n) if n else b""

    def any(self):
        return self._port.in_waiting

    def close(self):
        self._port.close()


class RpiBackend(Backend):
    name = "rpi"

    def __init__(self, board, gpio, serial_module):
        self.board = board
        self.gpio = gpio
        self.serial_module = serial_module
        self._pins = {}
        self._uarts = []
        self._numbers = list(board.get("gpio", {}).get("pins", []))
        gpio.setwarnings(False)
        gpio.setmode(gpio.BCM)

    def pin(self, number, mode=Pin.IN, pull=None, value=None):
        if number not in self._numbers:
            raise ValueError("no GPIO %r on this board" % (number,))
        pin = self._pins.get(number)
        if pin is None:
            pin = RpiPin(self.gpio, number)
            self._pins[number] = pin
        pin.init(mode, pull, value)
        return pin

    def uart(self, port, baudrate):
        uart = RpiUart(self.serial_module, port, baudrate)
        self._uarts.append(uart)
        return uart

    def audio(self, capture, playback):
        from firmware.hal.rpi.audio import AlsaAudio

        return AlsaAudio(capture, playback)

    def close(self):
        for uart in self._uarts:
            uart.close()
        self._uarts = []
        if self._pins:
            self.gpio.cleanup(sorted(self._pins))
            self._pins = {}


def make_backend(board, clock=None, gpio=None, serial_module=None):
    """The Pi backend; ``gpio``/``serial_module`` default to RPi.GPIO and pyserial.

    ``clock`` is accepted for symmetry with the simulator and unused: real
    hardware keeps real time."""
    if gpio is None:
        import RPi.GPIO as gpio
    if serial_module is None:
        import serial as serial_module
    return RpiBackend(board, gpio, serial_module)
