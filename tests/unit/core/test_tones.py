"""Tone plans, sample-exact generation and ringer cadences.

The checksums at the end were computed once; the same test passing under
CPython and MicroPython is what shows both interpreters produce the same
samples.
"""

import binascii
import math
from array import array

from firmware.core import tones
from firmware.core.tones import (DBM0_PEAK, EUROPE, NORTH_AMERICA, REGIONS, TONE_NAMES,
                                 UNITED_KINGDOM, Tone, ToneGenerator, amplitude, cadence_state,
                                 period_samples, ringer_cadence, tone)


def _samples(generator, count, frame=160):
    out = array("h")
    while count > 0:
        n = frame if frame < count else count
        out.extend(array("h", generator.read(n)))
        count -= n
    return out


def _goertzel_power(samples, frequency, rate=8000):
    coeff = 2 * math.cos(2 * math.pi * frequency / rate)
    s1 = s2 = 0.0
    for x in samples:
        s0 = x + coeff * s1 - s2
        s2 = s1
        s1 = s0
    return (s1 * s1 + s2 * s2 - coeff * s1 * s2) / (len(samples) ** 2)


def _rms(samples):
    total = 0
    for x in samples:
        total += x * x
    return math.sqrt(total / len(samples))


def test_every_region_has_every_tone_and_a_ringer_cadence():
    for region in REGIONS:
        for name in TONE_NAMES:
            assert tone(region, name).name == name
        assert len(ringer_cadence(region)) % 2 == 0
    for bad in (("mars", "dial"), ("na", "howler")):
        try:
            tone(*bad)
        except ValueError:
            continue
        raise AssertionError("found %r" % (bad,))


def test_tone_plan_figures():
    assert tone(NORTH_AMERICA, "dial").frequencies == (350, 440)
    assert tone(NORTH_AMERICA, "dial").cadence == ()
    assert tone(NORTH_AMERICA, "ringback").frequencies == (440, 480)
    assert tone(NORTH_AMERICA, "ringback").cadence == (2000, 4000)
    assert tone(NORTH_AMERICA, "busy").cadence == (500, 500)
    assert tone(NORTH_AMERICA, "congestion").cadence == (250, 250)
    assert tone(NORTH_AMERICA, "busy").frequencies == (480, 620)
    assert tone(UNITED_KINGDOM, "dial").frequencies == (350, 450)
    assert tone(UNITED_KINGDOM, "ringback").cadence == (400, 200, 400, 2000)
    assert tone(UNITED_KINGDOM, "busy").cadence == (375, 375)
    assert tone(UNITED_KINGDOM, "congestion").cadence == (400, 350, 225, 525)
    for name in TONE_NAMES:
        assert tone(EUROPE, name).frequencies == (425,)
    assert tone(EUROPE, "ringback").cadence == (1000, 4000)
    assert ringer_cadence(NORTH_AMERICA) == (2000, 4000)
    assert ringer_cadence(UNITED_KINGDOM) == (400, 200, 400, 2000)
    assert ringer_cadence(EUROPE) == (1000, 4000)


def test_sine_table_is_accurate():
    table = tones.quarter_table()
    assert len(table) == 257
    assert table[0] == 0 and table[256] == 1 << 24
    for k in range(257):
        exact = math.sin(k * math.pi / 512) * (1 << 24)
        assert abs(table[k] - exact) <= 1, k
    # Interpolated values between table points, all four quadrants.
    for phase in range(0, 8000, 37):
        exact = math.sin(2 * math.pi * phase / 8000) * (1 << 24)
        assert abs(tones.sine_q24(phase, 8000) - exact) < 200, phase


def test_levels():
    assert amplitude(0) == DBM0_PEAK
    assert abs(amplitude(-20) - DBM0_PEAK / 10) <= 1
    assert abs(amplitude(-6) - DBM0_PEAK * 10 ** (-6 / 20)) <= 1
    assert abs(amplitude(-13) - DBM0_PEAK * 10 ** (-13 / 20)) <= 1
    assert abs(amplitude(3) - DBM0_PEAK * 10 ** (3 / 20)) <= 1
    assert amplitude(-10.5) < amplitude(-10) < amplitude(-9.5)


def test_period_of_frequency_combinations():
    assert period_samples((350, 440)) == 800
    assert period_samples((425,)) == 320
    assert period_samples((400, 450)) == 160
    assert period_samples((480, 620)) == 400
    assert period_samples((1004,)) == 2000


def test_single_tone_frequency_and_level():
    samples = _samples(ToneGenerator(tone(EUROPE, "dial")), 8000)
    crossings = 0
    for i in range(1, len(samples)):
        if (samples[i - 1] < 0) != (samples[i] < 0):
            crossings += 1
    assert abs(crossings - 850) <= 2  # 425 Hz for one second
    expected_rms = amplitude(-10) / math.sqrt(2)
    assert abs(_rms(samples) - expected_rms) < expected_rms * 0.005


def test_dual_tone_has_both_components_and_nothing_else():
    samples = _samples(ToneGenerator(tone(NORTH_AMERICA, "dial")), 1600)
    p350 = _goertzel_power(samples, 350)
    p440 = _goertzel_power(samples, 440)
    assert abs(p350 / p440 - 1) < 0.01  # same level each
    for other in (300, 400, 480, 620, 1000):
        assert _goertzel_power(samples, other) < p350 / 1000
    # Each component at -13 dBm0: its Goertzel power is (A/2)^2.
    expected = (amplitude(-13) / 2) ** 2
    assert abs(p350 - expected) < expected * 0.02


def test_frames_join_without_discontinuity():
    whole = _samples(ToneGenerator(tone(UNITED_KINGDOM, "dial")), 4000, frame=4000)
    for frame in (160, 37, 1, 333):
        assert _samples(ToneGenerator(tone(UNITED_KINGDOM, "dial")), 4000, frame) == whole


def _gated(spec, segments):
    """What a cadenced tone must be: the steady tone where on, zeros where off."""
    total = 0
    for _, length in segments:
        total += length
    steady = _samples(ToneGenerator(Tone("steady", spec.frequencies, spec.level)), total)
    out = array("h", bytes(2 * total))
    n = 0
    for on, length in segments:
        if on:
            out[n:n + length] = steady[n:n + length]
        n += length
    return out


def test_cadence_boundaries_are_sample_exact():
    cases = [
        (tone(NORTH_AMERICA, "busy"), [(True, 4000), (False, 4000)] * 3),
        (tone(NORTH_AMERICA, "congestion"), [(True, 2000), (False, 2000)] * 3),
        (tone(UNITED_KINGDOM, "ringback"),
         [(True, 3200), (False, 1600), (True, 3200), (False, 16000)] * 2),
        (tone(UNITED_KINGDOM, "congestion"),
         [(True, 3200), (False, 2800), (True, 1800), (False, 4200)] * 2),
        (tone(EUROPE, "call_waiting"),
         [(True, 1600), (False, 1600), (True, 1600), (False, 40000)]),
    ]
    for spec, segments in cases:
        expected = _gated(spec, segments)
        assert _samples(ToneGenerator(spec), len(expected)) == expected, spec
        # Sound right up to the end of each on period, silence from the start of an off one.
        n = 0
        for on, length in segments:
            edge = expected[n + length - 8:n + length] if on else expected[n:n + 8]
            assert any(edge) == on, (spec, n)
            n += length


def test_phase_continues_through_off_periods():
    spec = tone(NORTH_AMERICA, "busy")
    busy = _samples(ToneGenerator(spec), 12000)
    steady = _samples(ToneGenerator(Tone("steady", spec.frequencies, spec.level)), 12000)
    assert busy[8000:12000] == steady[8000:12000]
    assert busy[:4000] == steady[:4000]


def test_one_shot_tone_finishes_with_silence():
    generator = ToneGenerator(Tone("beep", (1000,), -10, (100, 50), repeat=False))
    samples = _samples(generator, 2000)
    assert generator.finished
    assert samples == _gated(generator.tone, [(True, 800), (False, 1200)])
    assert any(samples[790:800]) and not any(samples[800:])
    assert generator.read(160) == bytes(320)
    generator.reset()
    assert not generator.finished and any(generator.read(160))


def test_ringer_cadence_state():
    na = ringer_cadence(NORTH_AMERICA)
    assert cadence_state(na, 0) == (True, 2000)
    assert cadence_state(na, 1999) == (True, 1)
    assert cadence_state(na, 2000) == (False, 4000)
    assert cadence_state(na, 5999) == (False, 1)
    assert cadence_state(na, 6000) == (True, 2000)
    assert cadence_state(na, 6000 * 100 + 2500) == (False, 3500)
    uk = ringer_cadence(UNITED_KINGDOM)
    states = [cadence_state(uk, t)[0] for t in (0, 399, 400, 599, 600, 999, 1000, 2999, 3000)]
    assert states == [True, True, False, False, True, True, False, False, True]
    assert cadence_state((), 12345) == (True, None)
    assert cadence_state((100, 100), 250, repeat=False) == (False, None)


GOLDEN_CRC32 = [  # twelve seconds of each tone in 20 ms frames
    ("na", "dial", 0xB5E0D613),
    ("na", "ringback", 0x5123318A),
    ("na", "busy", 0xC9F95331),
    ("na", "congestion", 0x39A85C1A),
    ("na", "call_waiting", 0x25F9203E),
    ("uk", "dial", 0x3D7FC78A),
    ("uk", "ringback", 0xF127B881),
    ("uk", "busy", 0xDAB364AC),
    ("uk", "congestion", 0xF59AA464),
    ("uk", "call_waiting", 0x4950114D),
    ("eu", "dial", 0xAB12AD3A),
    ("eu", "ringback", 0x702A3548),
    ("eu", "busy", 0x4464F5E4),
    ("eu", "congestion", 0x74311A39),
    ("eu", "call_waiting", 0x311C3E16),
]


def test_samples_are_identical_on_every_interpreter():
    for region, name, expected in GOLDEN_CRC32:
        generator = ToneGenerator(tone(region, name))
        crc = 0
        for _ in range(600):
            crc = binascii.crc32(generator.read(160), crc)
        assert crc & 0xFFFFFFFF == expected, (region, name, hex(crc))
