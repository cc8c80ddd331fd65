"""Sample-rate conversion between the 8 kHz voice path and a sound card's rate.

Rule: sans-IO, frame in, frame out. A ``Resampler`` turns one period of signed
16-bit little-endian mono at ``in_rate`` into the same stretch of time at
``out_rate`` (20 ms: 160 samples at 8 kHz <-> 960 at 48 kHz, 882 at 44.1 kHz)
and keeps the two or three samples of history its filters need, so that
consecutive periods join without a click. Everything after construction is
integer arithmetic: the output is the same, bit for bit, on CPython and
MicroPython and on every run.

Upsampling (8 kHz -> card) is linear interpolation driven by a fractional
phase accumulator counted in whole numbers (output sample ``j`` sits at input
position ``j * in_rate / out_rate``, kept as an integer numerator), so 44.1 kHz
is as exact as 48 kHz and nothing drifts. Linear interpolation is a triangular
FIR, the low-pass against the images above 4 kHz: those of a 1 kHz tone come
out 34 dB down, those of tones near 4 kHz much less.

Downsampling (card -> 8 kHz) averages, for each output sample, exactly the
span of input it stands for (whole input samples, plus fractions of the two at
the edges when the ratio is not an integer). That box filter is the
anti-alias low-pass: it cancels every multiple of 8 kHz and damps what lies
near them, which is what would fold onto the low voice tones (7 kHz, which
lands on 1 kHz, comes out about 16 dB down); nearer 4 kHz it damps less
(4.5 kHz, landing on 3.5 kHz, about 3 dB).

Both filters droop towards 4 kHz (linear interpolation about 5 dB at 3.4 kHz,
the box filter about 2.7 dB), so a 3-tap lift ``(-a, 1 + 2a, -a)`` at 8 kHz
flattens the voice band to about +-1 dB. It delays the signal by one 8 kHz
sample. Quality is phone grade: images and aliases between 4 and 8 kHz are
attenuated, not removed (a card opened through ALSA's ``plughw`` at 8 kHz
uses ALSA's converter instead).
"""

import math
import struct

EQ_SHIFT = 12
EQ_ONE = 1 << EQ_SHIFT
WEIGHT_SHIFT = 14
WEIGHT_ONE = 1 << WEIGHT_SHIFT
# the lift is set so that the voice band is flat at this fraction of the low rate
EQ_REFERENCE = 0.375
SAMPLE_MAX = 32767
SAMPLE_MIN = -32768


def _gcd(a, b):
    while b:
        a, b = b, a % b
    return a


def _droop(ratio, x, squared):
    """Gain at ``x`` (frequency / low rate) of a box ``ratio`` high-rate
    samples wide; squared it is the triangle of linear interpolation."""
    gain = math.sin(math.pi * x) / (ratio * math.sin(math.pi * x / ratio))
    return gain * gain if squared else abs(gain)


def _lift(ratio, squared):
    """The 3-tap lift coefficient ``a`` (scaled by EQ_ONE) that makes the
    filter's gain 1 at EQ_REFERENCE of the low rate."""
    x = EQ_REFERENCE
    boost = 1.0 / _droop(ratio, x, squared) - 1.0
    a = boost / (2.0 * (1.0 - math.cos(2.0 * math.pi * x)))
    return int(a * EQ_ONE + 0.5)


class _Lift:
    """The 3-tap lift at the low rate, one sample late, history kept."""

    __slots__ = ("a", "centre", "older", "old")

    def __init__(self, a):
        self.a = a
        self.centre = EQ_ONE + 2 * a
        self.older = 0
        self.old = 0

    def reset(self):
        self.older = 0
        self.old = 0

    def run(self, samples):
        a = self.a
        centre = self.centre
        half = EQ_ONE >> 1
        older = self.older
        old = self.old
        out = [0] * len(samples)
        i = 0
        for new in samples:
            v = (centre * old - a * (older + new) + half) >> EQ_SHIFT
            if v > SAMPLE_MAX:
                v = SAMPLE_MAX
            elif v < SAMPLE_MIN:
                v = SAMPLE_MIN
            out[i] = v
            i += 1
            older = old
            old = new
        self.older = older
        self.old = old
        return out


class Resampler:
    """Converts periods of 16-bit mono PCM from ``in_rate`` to ``out_rate``.

    ``period_ms`` fixes the period; it must hold a whole number of samples at
    both rates. ``process(pcm)`` takes exactly ``bytes_in`` bytes and returns
    exactly ``bytes_out``. Equal rates copy the period through. ``reset()``
    forgets the history (after an xrun or between calls).
    """

    __slots__ = ("in_rate", "out_rate", "frames_in", "frames_out", "bytes_in", "bytes_out",
                 "_in_format", "_out_format", "_lift", "_last", "_plan", "_unit", "_total")

    def __init__(self, in_rate, out_rate, period_ms=20):
        if in_rate <= 0 or out_rate <= 0 or period_ms <= 0:
            raise ValueError("rates and period must be positive")
        if (in_rate * period_ms) % 1000 or (out_rate * period_ms) % 1000:
            raise ValueError("%d ms is not a whole number of samples at %d and %d Hz"
                             % (period_ms, in_rate, out_rate))
        self.in_rate = in_rate
        self.out_rate = out_rate
        self.frames_in = in_rate * period_ms // 1000
        self.frames_out = out_rate * period_ms // 1000
        self.bytes_in = 2 * self.frames_in
        self.bytes_out = 2 * self.frames_out
        self._in_format = "<%dh" % self.frames_in
        self._out_format = "<%dh" % self.frames_out
        self._last = 0
        self._plan = None
        self._lift = None
        self._unit = 1
        self._total = 1
        if out_rate > in_rate:
            self._lift = _Lift(_lift(out_rate / in_rate, True))
            self._plan = self._interpolation_plan()
        elif out_rate < in_rate:
            self._lift = _Lift(_lift(in_rate / out_rate, False))
            self._plan = self._averaging_plan()

    def _interpolation_plan(self):
        """Per input sample ``i``, the weights (of the step from ``i`` to ``i + 1``)
        of the outputs that fall between them. The phase comes back to zero
        at the end of every period, so one plan serves them all."""
        plan = [()] * self.frames_in
        shared = {}
        for j in range(self.frames_out):
            position = j * self.in_rate
            i = position // self.out_rate
            fraction = position % self.out_rate
            weight = (fraction * WEIGHT_ONE + self.out_rate // 2) // self.out_rate
            plan[i] = plan[i] + (weight,)
        for i in range(self.frames_in):
            # integer ratios repeat one tuple: keep a single copy of each
            plan[i] = shared.setdefault(plan[i], plan[i])
        return plan

    def _averaging_plan(self):
        """Per output sample, (first, end, first weight, last weight) of the
        input span it averages: input ``first`` with its weight, the whole
        samples ``first + 1 .. end - 1``, and input ``end`` with its weight.
        Weights count in units of ``gcd(in_rate, out_rate)`` ticks."""
        unit = _gcd(self.in_rate, self.out_rate)
        step = self.in_rate // unit      # one output sample, in ticks
        sample = self.out_rate // unit   # one input sample, in ticks
        self._unit = sample
        self._total = step
        plan = []
        for k in range(self.frames_out):
            start = k * step
            stop = start + step
            first = start // sample
            end = stop // sample
            first_weight = (first + 1) * sample - start
            last_weight = stop - end * sample
            if end == first:
                first_weight = step
                last_weight = 0
            plan.append((first, end, first_weight, last_weight))
        return plan

    def reset(self):
        self._last = 0
        if self._lift is not None:
            self._lift.reset()

    def process(self, pcm):
        """One period at ``in_rate`` (bytes-like) -> the same period at ``out_rate``."""
        if len(pcm) != self.bytes_in:
            raise ValueError("a %d Hz period is %d bytes, got %d"
                             % (self.in_rate, self.bytes_in, len(pcm)))
        if self._plan is None:
            return bytes(pcm)
        samples = struct.unpack(self._in_format, pcm)
        if self.out_rate > self.in_rate:
            out = self._interpolate(self._lift.run(samples))
        else:
            out = self._lift.run(self._average(samples))
        return struct.pack(self._out_format, *out)

    def _interpolate(self, samples):
        out = [0] * self.frames_out
        half = WEIGHT_ONE >> 1
        plan = self._plan
        a = self._last
        j = 0
        i = 0
        for b in samples:
            step = b - a
            for weight in plan[i]:
                out[j] = a + ((step * weight + half) >> WEIGHT_SHIFT)
                j += 1
            a = b
            i += 1
        self._last = a
        return out

    def _average(self, samples):
        unit = self._unit
        total = self._total
        half = total >> 1
        if unit == 1:
            # integer ratio: every span is ``total`` whole samples, in order
            # (the period is a whole number of spans; MicroPython's zip has no strict=)
            spans = zip(*([iter(samples)] * total))  # noqa: B905
            return [(sum(span) + half) // total for span in spans]
        padded = list(samples)
        padded.append(0)  # the last span ends exactly at the period's end (weight 0)
        out = [0] * self.frames_out
        k = 0
        for first, end, first_weight, last_weight in self._plan:
            acc = (first_weight * padded[first] + unit * sum(padded[first + 1:end])
                   + last_weight * padded[end])
            out[k] = (acc + half) // total
            k += 1
        return out
