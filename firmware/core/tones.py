"""Call-progress tones and ringer cadences by region, generated sample-exact.

Rule: every sample is computed with integer arithmetic only (a quarter-wave
sine table built from an integer Taylor series, linear interpolation at the
exact rational phase ``f * n / rate``), so CPython and MicroPython produce
identical bytes. The phase of a tone follows the absolute sample index from
its start, so frames join without clicks and a tone that resumes after an
off period continues its phase. Cadence boundaries fall on exact sample
indexes (``ms * rate / 1000``). A combination of integer frequencies repeats
every ``rate / gcd(rate, f1, f2, ...)`` samples; the generator computes that
period once and then only slices it.

Levels are dBm0 per frequency component; 0 dBm0 is the sine whose peak is
3.17 dB below G.711 mu-law overload (ITU-T G.711: 8159 in 14-bit units).
Cadences are tuples of milliseconds alternating on and off, starting with
on; an empty cadence is a continuous tone. Ringer cadences have the same
form, for a ringer driver to follow.

Figures: North America follows the Precise Tone Plan (dial 350+440 at -13
dBm0 per component, audible ringing 440+480 at -19 2 s on 4 s off, busy
480+620 at -24 0.5/0.5, reorder at -24 0.25/0.25, call waiting 440 at -13 for
0.3 s every 10 s). The United Kingdom uses the BT cadences (dial 350+450
continuous, ringing 400+450 0.4/0.2/0.4/2.0, engaged 400 0.375/0.375,
congestion 400 0.4/0.35/0.225/0.525, call waiting 400 0.1 s every 4.1 s);
Europe the ITU-T E.180 / CEPT 425 Hz tones (dial continuous, ringing 1/4,
busy 0.5/0.5, congestion 0.25/0.25) with the common CEPT call waiting
pattern 0.2 on 0.2 off 0.2 on 5 s off. The UK (-20 dBm0 per component) and
European (-10 dBm0) levels are this firmware's choice within the usual
range, not quoted from a plan.
"""

from array import array

SAMPLE_RATE = 8000
DBM0_PEAK = 22657  # 8159 * 4 / 10 ** (3.17 / 20): 0 dBm0 sine peak, 16-bit scale

_PI_Q60 = 3622009729038561422  # pi * 2**60, rounded
_Q60 = 60
_QUARTER_STEPS = 256  # the table holds sin at k * (pi/2) / 256, k = 0..256
_TABLE_BITS = 24  # table values are sin * 2**24
_GAIN_TENTH_DB_DOWN_Q30 = 1061450803  # 10 ** (-0.1 / 20) * 2**30, rounded
_GAIN_TENTH_DB_UP_Q30 = 1086175168  # 10 ** (0.1 / 20) * 2**30, rounded
_CHUNK = 320  # longest slice taken from the period buffer at once

_quarter_table = None


def _sin_q60(x):
    """sin(x) for 0 <= x <= pi/2, x and the result in Q60, integers only."""
    x2 = (x * x) >> _Q60
    term = x
    total = x
    k = 1
    negative = True
    while term:
        term = ((term * x2) >> _Q60) // ((2 * k) * (2 * k + 1))
        total = total - term if negative else total + term
        negative = not negative
        k += 1
    return total


def quarter_table():
    """sin(k * pi / 512) * 2**24 for k = 0..256, as a tuple of ints."""
    global _quarter_table
    if _quarter_table is None:
        values = []
        shift = _Q60 - _TABLE_BITS
        for k in range(_QUARTER_STEPS + 1):
            s = _sin_q60(_PI_Q60 * k // (2 * _QUARTER_STEPS))
            values.append((s + (1 << (shift - 1))) >> shift)
        _quarter_table = tuple(values)
    return _quarter_table


def sine_q24(phase, rate):
    """sin(2 * pi * phase / rate) * 2**24 for an integer phase in [0, rate)."""
    table = _quarter_table or quarter_table()
    position = phase * 4 * _QUARTER_STEPS
    index = position // rate
    frac = position % rate
    quadrant = index // _QUARTER_STEPS
    i = index % _QUARTER_STEPS
    if quadrant & 1:
        a = table[_QUARTER_STEPS - i]
        b = table[_QUARTER_STEPS - i - 1]
    else:
        a = table[i]
        b = table[i + 1]
    value = a + ((b - a) * frac) // rate
    return -value if quadrant & 2 else value


def amplitude(level_dbm0):
    """Peak amplitude (16-bit scale) of a sine at ``level_dbm0``, 0.1 dB steps."""
    tenths = int(round(level_dbm0 * 10))
    factor = _GAIN_TENTH_DB_DOWN_Q30 if tenths < 0 else _GAIN_TENTH_DB_UP_Q30
    gain = 1 << 30
    for _ in range(abs(tenths)):
        gain = (gain * factor + (1 << 29)) >> 30
    return (DBM0_PEAK * gain + (1 << 29)) >> 30


def _gcd(a, b):
    while b:
        a, b = b, a % b
    return a


class Tone:
    """A tone: frequencies (Hz, integers), level per component, cadence."""

    __slots__ = ("name", "frequencies", "level", "cadence", "repeat")

    def __init__(self, name, frequencies, level, cadence=(), repeat=True):
        self.name = name
        self.frequencies = tuple(frequencies)
        self.level = level
        self.cadence = tuple(cadence)
        self.repeat = repeat

    def __repr__(self):
        return "Tone(%s %s @%s dBm0 %s)" % (
            self.name, "+".join([str(f) for f in self.frequencies]), self.level,
            self.cadence or "continuous")


DIAL = "dial"
RINGBACK = "ringback"
BUSY = "busy"
CONGESTION = "congestion"
CALL_WAITING = "call_waiting"
TONE_NAMES = (DIAL, RINGBACK, BUSY, CONGESTION, CALL_WAITING)

NORTH_AMERICA = "na"
UNITED_KINGDOM = "uk"
EUROPE = "eu"
REGIONS = (NORTH_AMERICA, UNITED_KINGDOM, EUROPE)

TONE_PLANS = {
    NORTH_AMERICA: (
        Tone(DIAL, (350, 440), -13),
        Tone(RINGBACK, (440, 480), -19, (2000, 4000)),
        Tone(BUSY, (480, 620), -24, (500, 500)),
        Tone(CONGESTION, (480, 620), -24, (250, 250)),
        Tone(CALL_WAITING, (440,), -13, (300, 9700)),
    ),
    UNITED_KINGDOM: (
        Tone(DIAL, (350, 450), -20),
        Tone(RINGBACK, (400, 450), -20, (400, 200, 400, 2000)),
        Tone(BUSY, (400,), -20, (375, 375)),
        Tone(CONGESTION, (400,), -20, (400, 350, 225, 525)),
        Tone(CALL_WAITING, (400,), -20, (100, 4000)),
    ),
    EUROPE: (
        Tone(DIAL, (425,), -10),
        Tone(RINGBACK, (425,), -10, (1000, 4000)),
        Tone(BUSY, (425,), -10, (500, 500)),
        Tone(CONGESTION, (425,), -10, (250, 250)),
        Tone(CALL_WAITING, (425,), -10, (200, 200, 200, 5000)),
    ),
}

RINGER_CADENCES = {
    NORTH_AMERICA: (2000, 4000),
    UNITED_KINGDOM: (400, 200, 400, 2000),
    EUROPE: (1000, 4000),
}


def tone(region, name):
    """The Tone called ``name`` in ``region``; ValueError if there is none."""
    plan = TONE_PLANS.get(region)
    if plan is None:
        raise ValueError("no tone plan for region %r" % (region,))
    for candidate in plan:
        if candidate.name == name:
            return candidate
    raise ValueError("no %r tone in region %r" % (name, region))


def ringer_cadence(region):
    """The ringer's on/off schedule in ms (on first) for ``region``."""
    cadence = RINGER_CADENCES.get(region)
    if cadence is None:
        raise ValueError("no ringer cadence for region %r" % (region,))
    return cadence


def cadence_state(cadence, elapsed_ms, repeat=True):
    """Where a cadence is after ``elapsed_ms``: (on, ms until the next change).

    A continuous cadence gives (True, None); a finished one-shot cadence
    gives (False, None). This is the whole of a ringer driver's timing.
    """
    if not cadence:
        return True, None
    cycle = 0
    for ms in cadence:
        cycle += ms
    if elapsed_ms >= cycle:
        if not repeat:
            return False, None
        elapsed_ms %= cycle
    index = 0
    for ms in cadence:
        if elapsed_ms < ms:
            return index % 2 == 0, ms - elapsed_ms
        elapsed_ms -= ms
        index += 1
    return True, cadence[0]  # not reached: elapsed < cycle


def period_samples(frequencies, rate=SAMPLE_RATE):
    """Samples after which the sum of these integer frequencies repeats."""
    g = rate
    for f in frequencies:
        g = _gcd(g, f)
    return rate // g


def synthesize_period(tone, rate=SAMPLE_RATE):
    """One period of the tone's waveform as bytes of little-endian int16."""
    length = period_samples(tone.frequencies, rate)
    amp = amplitude(tone.level)
    rounding = 1 << (_TABLE_BITS - 1)
    samples = array("h", bytes(2 * length))
    for n in range(length):
        total = 0
        for f in tone.frequencies:
            total += amp * sine_q24((f * n) % rate, rate)
        value = (total + rounding) >> _TABLE_BITS
        if value > 32767:
            value = 32767
        elif value < -32768:
            value = -32768
        samples[n] = value
    return bytes(samples)


_ZEROS = bytes(2 * _CHUNK)


class ToneGenerator:
    """Plays a Tone frame by frame: ``read(count)`` gives ``count`` samples.

    ``position`` is the sample index since the start; ``finished`` becomes
    True after the last segment of a one-shot (``repeat=False``) tone, after
    which reads give silence.
    """

    __slots__ = ("tone", "rate", "position", "finished", "_period", "_wave", "_segments",
                 "_segment", "_segment_left")

    def __init__(self, tone, rate=SAMPLE_RATE):
        self.tone = tone
        self.rate = rate
        period = synthesize_period(tone, rate)
        self._period = len(period) // 2
        repeats = (self._period + _CHUNK + self._period - 1) // self._period
        self._wave = period * repeats
        segments = []
        for i, ms in enumerate(tone.cadence):
            segments.append((i % 2 == 0, ms * rate // 1000))
        total = 0
        for _, length in segments:
            total += length
        self._segments = segments if total else []  # all-zero cadence: continuous
        self.reset()

    def reset(self):
        self.position = 0
        self.finished = False
        self._segment = 0
        self._segment_left = self._segments[0][1] if self._segments else None

    def read(self, count=160):
        """The next ``count`` samples as little-endian int16 bytes."""
        pieces = []
        left = count
        while left:
            take = left if left < _CHUNK else _CHUNK
            if self.finished:
                pieces.append(_ZEROS[:2 * take])
                left -= take
                continue
            on = True
            if self._segment_left is not None:
                on = self._segments[self._segment][0]
                if self._segment_left < take:
                    take = self._segment_left
            if on:
                start = 2 * (self.position % self._period)
                pieces.append(self._wave[start:start + 2 * take])
            else:
                pieces.append(_ZEROS[:2 * take])
            self.position += take
            left -= take
            if self._segment_left is not None:
                self._segment_left -= take
                if self._segment_left == 0:
                    self._next_segment()
        if len(pieces) == 1:
            return pieces[0]
        return b"".join(pieces)

    def _next_segment(self):
        self._segment += 1
        if self._segment == len(self._segments):
            if not self.tone.repeat:
                self.finished = True
                return
            self._segment = 0
        self._segment_left = self._segments[self._segment][1]
        if self._segment_left == 0:
            self._next_segment()
