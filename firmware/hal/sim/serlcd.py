"""A character display as the firmware sees it: a SerLCD-style serial backpack
in front of an HD44780 controller, decoded from the bytes on the wire.

Rule: the screen is whatever the received bytes make of an HD44780's memory,
nothing else. The backpack protocol is SparkFun SerLCD v2.5 (also spoken by
many clones):

- a plain byte is a character written at the address counter;
- 0xFE then one byte: that byte is an HD44780 instruction (0x01 clear,
  0x02 home, 0x04-0x07 entry mode, 0x08-0x0F display/cursor/blink,
  0x10-0x1F cursor or display shift, 0x20-0x3F function set, 0x40|a CGRAM
  address, 0x80|a DDRAM address, i.e. set the cursor position);
- 0x7C then one byte: a backpack setting: 128..157 backlight level 0..29,
  3/4 width 20/16, 5/6 lines 4/2, 9 splash toggle, 10 save splash,
  11..16 speed 2400..38400 bit/s.

The controller is modelled in two-line mode (the mode every 2- and 4-row module
runs in): line 0 is DDRAM 0x00-0x27, line 1 is 0x40-0x67, the address counter
wraps from 0x27 to 0x40 and from 0x67 to 0x00; row 2 of a 4-row glass is the
continuation of line 0 at ``cols``, row 3 that of line 1. One-line mode (linear
0x00-0x4F) is kept for completeness.
"""

SERLCD_COMMAND = 0xFE
SERLCD_SETTING = 0x7C

BAUD_SETTINGS = [(11, 2400), (12, 4800), (13, 9600), (14, 14400), (15, 19200), (16, 38400)]

# HD44780 character ROM A00 where it differs from ASCII, as screen text.
_ROM_SPECIAL = [(0x5C, "\u00a5"), (0x7E, "\u2192"), (0x7F, "\u2190"), (0xDF, "\u00b0")]


def glyph(code):
    """The character a person reads for ROM code ``code`` (A00 ROM)."""
    if code < 0x10:
        return chr(code & 7)
    for rom, text in _ROM_SPECIAL:
        if rom == code:
            return text
    if 0x20 <= code < 0x7E:
        return chr(code)
    return "?"


class Hd44780:
    """DDRAM, CGRAM, address counter and display state of an HD44780."""

    __slots__ = (
        "ddram", "cgram", "ac", "to_cgram", "increment", "shift_on_write",
        "window", "display_on", "cursor_on", "blink_on", "two_lines",
        "instructions", "stray_writes",
    )

    def __init__(self):
        self.ddram = bytearray(b" " * 0x80)
        self.cgram = bytearray(64)
        self.ac = 0
        self.to_cgram = False
        self.increment = True
        self.shift_on_write = False
        self.window = 0
        self.display_on = True
        self.cursor_on = False
        self.blink_on = False
        self.two_lines = True
        self.instructions = 0
        self.stray_writes = 0

    def instruction(self, code):
        self.instructions += 1
        if code & 0x80:
            self.to_cgram = False
            self.ac = code & 0x7F
        elif code & 0x40:
            self.to_cgram = True
            self.ac = code & 0x3F
        elif code & 0x20:
            self.two_lines = bool(code & 0x08)
        elif code & 0x10:
            right = bool(code & 0x04)
            if code & 0x08:
                # display shift: the text moves, so the window moves the other way
                self.window += -1 if right else 1
            else:
                self.to_cgram = False
                self.ac = self._step(self.ac, right)
        elif code & 0x08:
            self.display_on = bool(code & 0x04)
            self.cursor_on = bool(code & 0x02)
            self.blink_on = bool(code & 0x01)
        elif code & 0x04:
            self.increment = bool(code & 0x02)
            self.shift_on_write = bool(code & 0x01)
        elif code & 0x02:
            self.to_cgram = False
            self.ac = 0
            self.window = 0
        elif code & 0x01:
            for i in range(len(self.ddram)):
                self.ddram[i] = 0x20
            self.to_cgram = False
            self.ac = 0
            self.window = 0
            self.increment = True

    def data(self, byte):
        if self.to_cgram:
            self.cgram[self.ac] = byte & 0x1F
            self.ac = (self.ac + (1 if self.increment else -1)) & 0x3F
            return
        if self._valid(self.ac):
            self.ddram[self.ac] = byte
        else:
            self.stray_writes += 1
        self.ac = self._step(self.ac, self.increment)
        if self.shift_on_write:
            self.window += 1 if self.increment else -1

    def _valid(self, address):
        if self.two_lines:
            return address < 0x28 or 0x40 <= address < 0x68
        return address < 0x50

    def _step(self, address, forward):
        if self.two_lines:
            if forward:
                if address == 0x27:
                    return 0x40
                if address >= 0x67:
                    return 0x00
                return address + 1
            if address == 0x00:
                return 0x67
            if address == 0x40:
                return 0x27
            return address - 1
        if forward:
            return 0 if address >= 0x4F else address + 1
        return 0x4F if address == 0 else address - 1

    def address_of(self, row, col, cols):
        """DDRAM address shown at (row, col) of a glass ``cols`` wide."""
        if self.two_lines:
            line = row % 2
            offset = (row // 2) * cols + col + self.window
            return line * 0x40 + offset % 40
        return (row * cols + col + self.window) % 80

    def row_codes(self, row, cols):
        codes = bytearray(cols)
        for col in range(cols):
            codes[col] = self.ddram[self.address_of(row, col, cols)]
        return codes

    def cursor(self, rows, cols):
        """(row, col) of the address counter if it is on the glass, else None."""
        for row in range(rows):
            for col in range(cols):
                if self.address_of(row, col, cols) == self.ac:
                    return (row, col)
        return None


class SerLcd:
    """The serial backpack: parses the byte stream and drives an ``Hd44780``."""

    __slots__ = (
        "lcd", "cols", "rows", "backlight", "splash", "baudrate",
        "bytes_received", "settings", "unknown_settings", "_prefix",
    )

    def __init__(self, cols=16, rows=2, baudrate=9600):
        self.lcd = Hd44780()
        self.cols = cols
        self.rows = rows
        self.backlight = 29
        self.splash = True
        self.baudrate = baudrate
        self.bytes_received = 0
        self.settings = 0
        self.unknown_settings = 0
        self._prefix = 0

    def feed(self, data):
        for byte in data:
            self.bytes_received += 1
            prefix = self._prefix
            if prefix == SERLCD_COMMAND:
                self._prefix = 0
                self.lcd.instruction(byte)
            elif prefix == SERLCD_SETTING:
                self._prefix = 0
                self._setting(byte)
            elif byte == SERLCD_COMMAND or byte == SERLCD_SETTING:
                self._prefix = byte
            else:
                self.lcd.data(byte)

    def _setting(self, code):
        self.settings += 1
        if 128 <= code <= 157:
            self.backlight = code - 128
        elif code == 3:
            self.cols = 20
        elif code == 4:
            self.cols = 16
        elif code == 5:
            self.rows = 4
        elif code == 6:
            self.rows = 2
        elif code == 9:
            self.splash = not self.splash
        elif code == 10:
            pass
        else:
            for setting, speed in BAUD_SETTINGS:
                if setting == code:
                    self.baudrate = speed
                    return
            self.unknown_settings += 1

    def lines(self):
        """The text a person reads, one string per row (blank when switched off)."""
        if not self.lcd.display_on:
            return [" " * self.cols for _ in range(self.rows)]
        out = []
        for row in range(self.rows):
            out.append("".join(glyph(code) for code in self.lcd.row_codes(row, self.cols)))
        return out

    def cursor(self):
        return self.lcd.cursor(self.rows, self.cols)
