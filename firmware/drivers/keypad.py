"""Key-matrix scanner: one row driven at a time, columns read, keys debounced.

Rule: the keypad is a diode-less matrix. A scan drives one row to the active
level while every other row is released (an input, high impedance: a driven
idle row would short against the active one through two keys of a column),
reads every column, and releases the row again. The columns carry pull
resistors (set up by whoever made the pins) so an unconnected column reads the
idle level.

Electrically, three keys pressed at three corners of a rectangle connect the
fourth corner too (current flows through the released rows): the reading shows
a key nobody pressed and cannot say which of the four is false. Such a reading
is ambiguous, and the scanner suppresses every key in a rectangle that was not
already down; keys already down stay down, keys elsewhere are unaffected.

A key changes state only after ``debounce_scans`` consecutive scans agree on
its new state. Scans run every ``scan_interval`` seconds; ``tick(now)``
returns events ``(KEY_DOWN, key, now)`` / ``(KEY_UP, key, now)`` in scan order.
"""

from firmware.hal.api import Pin

KEY_DOWN = "key_down"
KEY_UP = "key_up"

# a tick this much early still counts: sums of float intervals drift by a few ulps
TOLERANCE = 1e-6


def ambiguous_bits(masks):
    """Per row, a bit mask of the keys that sit in a rectangle of the reading.

    Two rows sharing two or more columns form a rectangle; every shared column
    of both rows is suspect."""
    suspect = [0] * len(masks)
    for i in range(len(masks)):
        for j in range(i + 1, len(masks)):
            common = masks[i] & masks[j]
            if common & (common - 1):  # two bits or more
                suspect[i] |= common
                suspect[j] |= common
    return suspect


class Keypad:
    def __init__(self, rows, columns, layout, active_low=True,
                 scan_interval=0.01, debounce_scans=3, now=0.0):
        if len(layout) != len(rows):
            raise ValueError("layout has %d rows, wiring has %d" % (len(layout), len(rows)))
        for names in layout:
            if len(names) != len(columns):
                raise ValueError("every layout row needs %d keys" % len(columns))
        if debounce_scans < 1:
            raise ValueError("debounce_scans must be at least 1")
        self._rows = list(rows)
        self._columns = list(columns)
        self._layout = [list(names) for names in layout]
        self._drive = 0 if active_low else 1
        self.scan_interval = scan_interval
        self.debounce_scans = debounce_scans
        count = len(rows) * len(columns)
        self._down = [False] * count
        self._streak = [0] * count
        self._next_scan = now
        self.scans = 0
        self.ambiguous_scans = 0
        for row in self._rows:
            row.init(Pin.IN)

    def read_matrix(self):
        """One electrical scan: per row, the mask of columns at the active level."""
        drive = self._drive
        masks = []
        for row in self._rows:
            row.init(Pin.OUT, None, drive)
            mask = 0
            for c, column in enumerate(self._columns):
                if column.value() == drive:
                    mask |= 1 << c
            row.init(Pin.IN)
            masks.append(mask)
        return masks

    def next_deadline(self):
        return self._next_scan

    def pressed(self):
        """Keys currently down (debounced), in layout order."""
        ncols = len(self._columns)
        return [self._layout[k // ncols][k % ncols]
                for k in range(len(self._down)) if self._down[k]]

    def tick(self, now):
        """Scan if a scan is due; returns a list of key events (maybe empty)."""
        if now + TOLERANCE < self._next_scan:
            return []
        self._next_scan = now + self.scan_interval
        return self.scan(now)

    def scan(self, now):
        """Scan right away, whatever the cadence."""
        masks = self.read_matrix()
        self.scans += 1
        suspect = ambiguous_bits(masks)
        for bits in suspect:
            if bits:
                self.ambiguous_scans += 1
                break
        events = []
        ncols = len(self._columns)
        for r in range(len(masks)):
            mask = masks[r]
            for c in range(ncols):
                k = r * ncols + c
                was_down = self._down[k]
                raw = bool((mask >> c) & 1)
                if raw and not was_down and (suspect[r] >> c) & 1:
                    raw = False  # a new key out of an ambiguous reading
                if raw == was_down:
                    self._streak[k] = 0
                    continue
                self._streak[k] += 1
                if self._streak[k] < self.debounce_scans:
                    continue
                self._streak[k] = 0
                self._down[k] = raw
                events.append((KEY_DOWN if raw else KEY_UP, self._layout[r][c], now))
        return events
