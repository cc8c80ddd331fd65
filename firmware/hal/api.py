"""Hardware contracts: what drivers may ask of a pin, a serial line and an audio device.

Rule: drivers and the runtime speak only these contracts; a backend (``hal.sim``,
``hal.rpi``) supplies objects that honour them. ``Pin`` and ``Signal`` follow
MicroPython's ``machine.Pin`` and ``machine.Signal`` so that driver code reads
like ordinary MicroPython; ``Uart`` is the small part of ``machine.UART`` a
display needs; ``AudioDevice`` moves whole periods of 16-bit mono PCM.

Nothing here knows pin numbers of any board: the runtime turns board data into
backend objects and hands those to drivers.

A backend package (``firmware/hal/<name>/__init__.py``) exposes
``make_backend(board_data, **options)`` returning an object with the methods of
``Backend`` below. The runtime imports it by the name written in the board file.
"""


class _Switch:
    """``on()``, ``off()`` and calling, in terms of ``value()``, as machine.Pin has them."""

    __slots__ = ()

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def __call__(self, v=None):
        return self.value(v)


class Pin(_Switch):
    """A GPIO line, after ``machine.Pin``.

    ``value()`` reads the level at the pad (0 or 1); ``value(v)`` sets the
    output latch. In ``OPEN_DRAIN`` mode 0 pulls the line low and 1 lets it go
    (high impedance), which is what a key-matrix row needs on boards that have
    it. ``init()`` reconfigures the line: a keypad scanner switches rows
    between driven and released that way.
    """

    IN = 0
    OUT = 1
    OPEN_DRAIN = 2

    PULL_UP = 1
    PULL_DOWN = 2

    def init(self, mode, pull=None, value=None):
        """Set the mode (IN, OUT, OPEN_DRAIN), the pull (None, PULL_UP,
        PULL_DOWN) and, for outputs, the initial level before driving."""
        raise NotImplementedError

    def _accept(self, mode, pull, value):
        """Check and record an ``init`` request (``mode``, ``pull``, ``out``);
        backends call it before touching their hardware or model."""
        if mode not in (Pin.IN, Pin.OUT, Pin.OPEN_DRAIN):
            raise ValueError("bad pin mode %r" % (mode,))
        if pull not in (None, Pin.PULL_UP, Pin.PULL_DOWN):
            raise ValueError("bad pull %r" % (pull,))
        if value is not None:
            self.out = 1 if value else 0
        self.mode = mode
        self.pull = pull

    def value(self, v=None):
        """Read the level (no argument) or set the output latch."""
        raise NotImplementedError


class Signal(_Switch):
    """A pin seen through its polarity, after ``machine.Signal``.

    ``Signal(pin, invert=True)`` makes ``on()`` drive the pin low and makes
    ``value()`` return 1 when the pin is low: active-low wiring becomes board
    data instead of a special case in every driver.
    """

    __slots__ = ("pin", "invert")

    def __init__(self, pin, invert=False):
        self.pin = pin
        self.invert = 1 if invert else 0

    def value(self, v=None):
        if v is None:
            return self.pin.value() ^ self.invert
        self.pin.value((1 if v else 0) ^ self.invert)
        return None


class Uart:
    """A byte-oriented serial line.

    Unlike ``machine.UART.read`` (which may return None), ``read(n)`` here
    always returns bytes, empty when nothing has arrived; it never blocks.
    """

    baudrate = 9600

    def write(self, data):
        """Queue ``data`` (bytes-like) for sending; returns the count taken."""
        raise NotImplementedError

    def read(self, n=-1):
        """Up to ``n`` received bytes (all pending ones when ``n`` < 0)."""
        raise NotImplementedError

    def any(self):
        """How many received bytes are waiting."""
        raise NotImplementedError

    def close(self):
        pass


class AudioDevice:
    """A duplex PCM device moving periods of signed 16-bit little-endian mono.

    ``open(rate, period_frames)`` fixes the sample rate and the period (160
    frames = 20 ms at 8 kHz). ``read_frame()`` returns one captured period
    (``2 * period_frames`` bytes) or None when none is ready yet;
    ``write_frame(pcm)`` queues one period for playback. ``underruns``
    (playback starved) and ``overruns`` (capture not read in time, periods
    lost) count the device's recoveries since ``open``.
    """

    rate = 0
    period_frames = 0
    underruns = 0
    overruns = 0

    def open(self, rate, period_frames):
        raise NotImplementedError

    def read_frame(self):
        raise NotImplementedError

    def write_frame(self, pcm):
        raise NotImplementedError

    def close(self):
        raise NotImplementedError


class Backend:
    """What ``make_backend(board_data)`` returns.

    ``pin(number, mode, pull, value)`` gives the line with that number in the
    board's numbering, configured; ``uart(port, baudrate)`` opens a serial
    port by the name in the board file; ``audio(capture, playback)`` gives an
    (unopened) ``AudioDevice`` for the device names in the board file;
    ``close()`` releases everything the backend handed out.
    """

    name = ""

    def pin(self, number, mode=Pin.IN, pull=None, value=None):
        raise NotImplementedError

    def uart(self, port, baudrate):
        raise NotImplementedError

    def audio(self, capture, playback):
        raise NotImplementedError

    def close(self):
        pass
