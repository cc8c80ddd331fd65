"""On/off cadences in time: the shared arithmetic of blinking LEDs and ringers.

Rule: a cadence is plain data, a list of ``(on_s, off_s)`` pairs played in
order and repeated (or played once); the level at any instant is a pure
function of the time since it started, so a virtual clock gives exact,
repeatable results and a late tick never shifts the phase. Times are kept in
whole milliseconds so that float noise in ``now`` cannot move an edge.
"""


def _ms(seconds):
    return int(seconds * 1000 + 0.5)


class Cadence:
    """``level(elapsed)`` and ``next_change(elapsed)`` of an on/off pattern."""

    __slots__ = ("edges", "period", "repeat")

    def __init__(self, pattern, repeat=True):
        edges = []  # (start_ms, level) of every non-empty segment, in order
        t = 0
        for pair in pattern:
            if len(pair) != 2:
                raise ValueError("a cadence step is (on_s, off_s), got %r" % (pair,))
            on_ms = _ms(pair[0])
            off_ms = _ms(pair[1])
            if on_ms < 0 or off_ms < 0:
                raise ValueError("negative duration in cadence %r" % (pattern,))
            if on_ms:
                edges.append((t, True))
                t += on_ms
            if off_ms:
                edges.append((t, False))
                t += off_ms
        if not edges:
            raise ValueError("empty cadence")
        self.edges = edges
        self.period = t
        self.repeat = repeat

    def _position(self, elapsed_ms):
        """(index of the segment, ms from the start of this repetition), or
        None once a one-shot cadence has finished."""
        if elapsed_ms < 0:
            elapsed_ms = 0
        if elapsed_ms >= self.period:
            if not self.repeat:
                return None
            elapsed_ms %= self.period
        edges = self.edges
        index = 0
        while index + 1 < len(edges) and edges[index + 1][0] <= elapsed_ms:
            index += 1
        return index, elapsed_ms

    def level(self, elapsed):
        where = self._position(_ms(elapsed))
        if where is None:
            return False
        return self.edges[where[0]][1]

    def next_change(self, elapsed):
        """Seconds since the start at which the level next changes, or None."""
        elapsed_ms = _ms(elapsed)
        if elapsed_ms < 0:
            elapsed_ms = 0
        where = self._position(elapsed_ms)
        if where is None:
            return None
        index, offset = where
        base = elapsed_ms - offset
        edges = self.edges
        current = edges[index][1]
        # walk the edges forward, across at most one wrap, to the first that differs
        count = len(edges)
        for step in range(1, count + 1):
            i = index + step
            if i < count:
                start, level = edges[i]
                at = base + start
            else:
                if not self.repeat:
                    return (base + self.period) / 1000.0 if current else None
                start, level = edges[i - count]
                at = base + self.period + start
            if level != current:
                return at / 1000.0
        return None
