"""Character display (HD44780 behind a SerLCD-style serial backpack) with a
shadow buffer.

Rule: callers write text into the wanted picture (``set_line``, ``write``,
``clear``); ``flush()`` sends only what differs from what the module already
shows, cell by cell, choosing the shortest byte sequence: a cursor move costs
two bytes, so an unchanged gap of one or two cells is rewritten rather than
jumped over, and a clear (two bytes) is used when it makes the update
shorter. The serial line is slow (about 1 ms a byte at 9600 bit/s), so fewer
bytes is a quicker screen.

Protocol (SparkFun SerLCD v2.5 and compatible backpacks): a plain byte is a
character; ``0xFE, i`` passes HD44780 instruction ``i`` (0x01 clear, 0x06
entry mode, 0x0C display on without cursor, 0x80|addr cursor position, 0x40|a
character generator); ``0x7C, 128+n`` sets the backlight to level n of 0..29.
The backpack keeps the backlight level in EEPROM, so it is sent only when it
changes. DDRAM addresses of rows 0..3: 0x00, 0x40, cols, 0x40+cols.

Text is mapped to the A00 character ROM: printable ASCII except the backslash
(the ROM has a yen sign there) and ``|`` (0x7C is the backpack's escape);
``¥ → ← °`` have their own codes; ``chr(0)``..``chr(7)`` are the custom
characters; anything else is shown as ``?``.
"""

COMMAND = 0xFE
SETTING = 0x7C

CLEAR = 0x01
ENTRY_INCREMENT = 0x06
DISPLAY_ON = 0x0C
SET_CGRAM = 0x40
SET_DDRAM = 0x80
BACKLIGHT_BASE = 128
BACKLIGHT_LEVELS = 29

_SPECIAL = [("\u00a5", 0x5C), ("\u2192", 0x7E), ("\u2190", 0x7F), ("\u00b0", 0xDF)]
_UNKNOWN = 0x3F  # '?'
_SPACE = 0x20
_CURSOR_COST = 2


def char_code(ch):
    """The ROM code the module needs to show ``ch``."""
    o = ord(ch)
    if o < 8:
        return o
    if 0x20 <= o < 0x7E and o != 0x5C and o != SETTING:
        return o
    for text, code in _SPECIAL:
        if text == ch:
            return code
    return _UNKNOWN


def encode(text):
    codes = bytearray(len(text))
    for i, ch in enumerate(text):
        codes[i] = char_code(ch)
    return codes


def advance(address, count):
    """The HD44780 address counter after ``count`` writes from ``address``
    (two-line mode: 0x27 is followed by 0x40, 0x67 by 0x00)."""
    line = 1 if address >= 0x40 else 0
    position = (address & 0x3F) + count
    while position >= 40:
        position -= 40
        line ^= 1
    return line * 0x40 + position


class CharDisplay:
    def __init__(self, uart, cols=16, rows=2):
        if rows not in (1, 2, 4) or not 1 <= cols <= 40 or (rows == 4 and cols > 20):
            raise ValueError("unsupported geometry %dx%d" % (cols, rows))
        self._uart = uart
        self.cols = cols
        self.rows = rows
        self._offsets = [0x00, 0x40, cols, 0x40 + cols][:rows]
        self._want = [bytearray(b" " * cols) for _ in range(rows)]
        self._have = [bytearray(b" " * cols) for _ in range(rows)]
        self._cursor = None
        self._backlight = None
        self.bytes_sent = 0

    # -- module control ----------------------------------------------------

    def start(self, backlight=1.0):
        """Put the module in a known state: on, no cursor, blank, backlight set."""
        self._send(bytes([COMMAND, DISPLAY_ON, COMMAND, ENTRY_INCREMENT, COMMAND, CLEAR]))
        for row in self._have:
            for c in range(self.cols):
                row[c] = _SPACE
        self._cursor = 0
        self._backlight = None
        self.set_backlight(backlight)

    def set_backlight(self, level):
        """Backlight from 0.0 (off) to 1.0 (full); True/False work too."""
        if level is True:
            level = 1.0
        elif level is False:
            level = 0.0
        level = min(1.0, max(0.0, level))
        step = int(level * BACKLIGHT_LEVELS + 0.5)
        if step != self._backlight:
            self._backlight = step
            self._send(bytes([SETTING, BACKLIGHT_BASE + step]))

    def define_char(self, slot, pattern):
        """Load custom character ``slot`` (0..7) with 8 rows of 5-bit pixels."""
        if not 0 <= slot < 8 or len(pattern) != 8:
            raise ValueError("a custom character is slot 0..7 with 8 rows")
        data = bytearray([COMMAND, SET_CGRAM | (slot << 3)])
        for bits in pattern:
            data.append(bits & 0x1F)
        self._send(data)
        self._cursor = None  # the address counter now points into CGRAM

    # -- the wanted picture ----------------------------------------------

    def clear(self):
        for row in self._want:
            for c in range(self.cols):
                row[c] = _SPACE

    def write(self, row, col, text):
        """Put ``text`` at (row, col); what does not fit is cut off."""
        if not 0 <= row < self.rows:
            raise ValueError("no row %d" % row)
        want = self._want[row]
        for i, code in enumerate(encode(text)):
            if 0 <= col + i < self.cols:
                want[col + i] = code

    def set_line(self, row, text):
        """Row ``row`` shows ``text``, cut or padded with spaces to the width."""
        self.write(row, 0, text[:self.cols] + " " * (self.cols - len(text)))

    def set_lines(self, lines):
        for row in range(self.rows):
            self.set_line(row, lines[row] if row < len(lines) else "")

    def wanted(self):
        """The wanted picture as ROM codes, one bytes object per row."""
        return [bytes(row) for row in self._want]

    def dirty(self):
        for r in range(self.rows):
            if self._want[r] != self._have[r]:
                return True
        return False

    # -- sending the difference -----------------------------------------

    def flush(self):
        """Send what changed; returns the number of bytes written."""
        if not self.dirty():
            return 0
        incremental, cursor = self._plan(self._have, self._cursor)
        blank = [bytearray(b" " * self.cols) for _ in range(self.rows)]
        cleared, cursor_after_clear = self._plan(blank, 0)
        if 2 + len(cleared) < len(incremental):
            data = bytearray([COMMAND, CLEAR])
            data.extend(cleared)
            cursor = cursor_after_clear
        else:
            data = incremental
        self._send(data)
        self._cursor = cursor
        for r in range(self.rows):
            self._have[r][:] = self._want[r]
        return len(data)

    def _plan(self, have, cursor):
        """Bytes that turn ``have`` into the wanted picture, and the cursor after."""
        out = bytearray()
        cols = self.cols
        for r in range(self.rows):
            want = self._want[r]
            shown = have[r]
            c = 0
            while c < cols:
                if want[c] == shown[c]:
                    c += 1
                    continue
                end = c + 1
                j = end
                while j < cols:
                    if want[j] != shown[j]:
                        j += 1
                        end = j
                        continue
                    gap = j
                    while gap < cols and want[gap] == shown[gap]:
                        gap += 1
                    if gap < cols and gap - j <= _CURSOR_COST:
                        j = gap  # rewriting the gap is no dearer than a jump
                    else:
                        break
                address = self._offsets[r] + c
                if cursor != address:
                    out.append(COMMAND)
                    out.append(SET_DDRAM | address)
                out.extend(want[c:end])
                cursor = advance(address, end - c)
                c = end
        return out, cursor

    def _send(self, data):
        self._uart.write(data)
        self.bytes_sent += len(data)
