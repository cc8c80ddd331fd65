"""Sample-rate conversion: frame sizes, tones through both directions, the
anti-alias low-pass, and periods that join without a seam."""

import math
import struct

from firmware.core.resample import Resampler

CARD_RATES = (16000, 32000, 44100, 48000)
AMPLITUDE = 10000


def _tone(hz, rate, count, amplitude=AMPLITUDE, start=0):
    out = [0] * count  # sized once: a growing list fragments MicroPython's heap
    w = 2 * math.pi * hz / rate
    for i in range(count):
        out[i] = int(amplitude * math.sin(w * (start + i)))
    return out


def _pack(samples):
    return struct.pack("<%dh" % len(samples), *samples)


def _unpack(pcm):
    return list(struct.unpack("<%dh" % (len(pcm) // 2), pcm))


def _run(resampler, samples):
    """Feed ``samples`` period by period; the concatenated output samples."""
    n = resampler.frames_in
    out = []
    for k in range(len(samples) // n):
        out.extend(_unpack(resampler.process(_pack(samples[k * n:(k + 1) * n]))))
    return out


def _through(up, down, samples):
    """Up to the card rate and back, period by period (nothing big is kept)."""
    n = up.frames_in
    out = []
    for k in range(len(samples) // n):
        card = up.process(_pack(samples[k * n:(k + 1) * n]))
        out.extend(_unpack(down.process(card)))
    return out


def _fit(samples, hz, rate):
    """(amplitude, rms residual) of the best sine of ``hz`` through ``samples``
    (a whole number of its cycles, so sine and cosine are orthogonal)."""
    n = len(samples)
    s = c = 0.0
    w = 2 * math.pi * hz / rate
    for i in range(n):
        s += samples[i] * math.sin(w * i)
        c += samples[i] * math.cos(w * i)
    a = 2 * s / n
    b = 2 * c / n
    residual = 0.0
    for i in range(n):
        e = samples[i] - a * math.sin(w * i) - b * math.cos(w * i)
        residual += e * e
    return math.sqrt(a * a + b * b), math.sqrt(residual / n)


def _db(ratio):
    return 20 * math.log10(ratio)


def test_frame_sizes_for_every_card_rate():
    for rate in CARD_RATES:
        up = Resampler(8000, rate)
        down = Resampler(rate, 8000)
        assert (up.frames_in, up.frames_out) == (160, rate // 50)
        assert (down.frames_in, down.frames_out) == (rate // 50, 160)
        card = up.process(bytes(320))
        assert len(card) == 2 * rate // 50 == up.bytes_out
        assert len(down.process(card)) == 320 == down.bytes_out
    assert len(Resampler(8000, 44100).process(bytes(320))) == 2 * 882


def test_other_periods():
    up = Resampler(8000, 48000, 10)
    assert len(up.process(bytes(160))) == 960
    down = Resampler(44100, 8000, 40)
    assert len(down.process(bytes(2 * 1764))) == 640


def test_wrong_sizes_and_rates_are_refused():
    up = Resampler(8000, 48000)
    for size in (0, 318, 322, 1920):
        try:
            up.process(bytes(size))
        except ValueError:
            pass
        else:
            raise AssertionError("%d bytes accepted" % size)
    for args in ((8000, 11025, 20), (8000, 44100, 1), (0, 8000, 20), (8000, 48000, 0)):
        try:
            Resampler(*args)
        except ValueError:
            pass
        else:
            raise AssertionError("Resampler%r accepted" % (args,))


def test_equal_rates_copy_the_period():
    same = Resampler(8000, 8000)
    pcm = _pack(_tone(1000, 8000, 160))
    assert same.process(pcm) == pcm


def test_constant_level_passes_unchanged():
    for rate in CARD_RATES:
        up = Resampler(8000, rate)
        down = Resampler(rate, 8000)
        card = _run(up, [-1234] * 480)
        assert card[rate // 50:] == [-1234] * (len(card) - rate // 50), rate
        back = _run(down, card)
        assert back[320:] == [-1234] * (len(back) - 320), rate


def test_1khz_tone_survives_8k_to_48k_to_8k():
    up = Resampler(8000, 48000)
    down = Resampler(48000, 8000)
    back = _through(up, down, _tone(1000, 8000, 2400))
    assert len(back) == 2400
    amplitude, residual = _fit(back[320:], 1000, 8000)
    assert abs(_db(amplitude / AMPLITUDE)) < 1.0, amplitude
    assert residual < 0.005 * amplitude, residual


def test_tone_round_trip_through_every_card_rate():
    for rate in CARD_RATES:
        up = Resampler(8000, rate)
        down = Resampler(rate, 8000)
        back = _through(up, down, _tone(1000, 8000, 2400))
        amplitude, residual = _fit(back[320:], 1000, 8000)
        assert abs(_db(amplitude / AMPLITUDE)) < 1.0, (rate, amplitude)
        assert residual < 0.01 * amplitude, (rate, residual)


def test_upsampled_tone_is_the_same_tone_at_the_card_rate():
    # a wrong rate or phase step would leave most of the signal unexplained
    for rate in CARD_RATES:
        card = _run(Resampler(8000, rate), _tone(1000, 8000, 1200))
        amplitude, residual = _fit(card[rate // 20:rate * 3 // 20], 1000, rate)
        assert abs(_db(amplitude / AMPLITUDE)) < 1.0, (rate, amplitude)
        # what is left are the images above 4 kHz, about -34 dB for 1 kHz
        assert residual < 0.04 * amplitude, (rate, residual)


def test_voice_band_is_flat_to_within_2_db_both_ways():
    for rate in (16000, 44100, 48000):
        for hz in (300, 1000, 2000, 3000, 3400):
            card = _run(Resampler(8000, rate), _tone(hz, 8000, 1200))
            amplitude, _ = _fit(card[rate // 20:rate * 3 // 20], hz, rate)
            card = None
            assert abs(_db(amplitude / AMPLITUDE)) < 2.0, ("up", rate, hz, amplitude)
            voice = _run(Resampler(rate, 8000), _tone(hz, rate, 6 * (rate // 50)))
            amplitude, residual = _fit(voice[160:], hz, 8000)
            assert abs(_db(amplitude / AMPLITUDE)) < 2.0, ("down", rate, hz, amplitude)
            assert residual < 0.01 * amplitude, ("down", rate, hz, residual)


def test_downsampling_filters_out_what_would_alias():
    # 7 kHz at 48 kHz folds onto 1 kHz at 8 kHz; without the low-pass it
    # would come through at full amplitude
    for rate in (44100, 48000):
        voice = _run(Resampler(rate, 8000), _tone(7000, rate, 6 * (rate // 50)))
        alias, _ = _fit(voice[160:], 1000, 8000)
        assert alias < 0.2 * AMPLITUDE, (rate, alias)
    # multiples of 8 kHz would fold onto 0 Hz: the box spans whole cycles of them
    for hz in (8000, 16000):
        voice = _run(Resampler(48000, 8000), _tone(hz, 48000, 5760, start=1))
        assert max(abs(v) for v in voice[160:]) < 0.01 * AMPLITUDE, hz


def _worst_jump(samples, period, seams):
    """Largest step between neighbours, at the period seams or elsewhere."""
    worst = 0
    for i in range(period, len(samples)):
        at_seam = i % period == 0
        if at_seam == seams:
            step = abs(samples[i] - samples[i - 1])
            if step > worst:
                worst = step
    return worst


def test_periods_join_without_a_seam():
    # 997 Hz: not a whole number of cycles per period, so every seam differs
    for rate in (16000, 44100, 48000):
        n = rate // 50
        card = _run(Resampler(8000, rate), _tone(997, 8000, 1280))
        assert _worst_jump(card, n, True) <= _worst_jump(card, n, False) + 2, rate
        voice = _run(Resampler(rate, 8000), _tone(997, rate, 6 * n))
        assert _worst_jump(voice, 160, True) <= _worst_jump(voice, 160, False) + 2, rate


def test_delaying_the_input_delays_the_output_exactly():
    # The conversion repeats every `low` samples at 8 kHz (1 for whole ratios,
    # 80 for 44.1 kHz, which is 441 card samples). Delaying the input by one
    # repeat must delay the output by exactly its length, bit for bit, although
    # the period seams now fall elsewhere in the signal.
    source = _tone(997, 8000, 800, amplitude=20000)
    for rate, low, high in ((16000, 1, 2), (48000, 1, 6), (44100, 80, 441)):
        out = _run(Resampler(8000, rate), source)
        later = _run(Resampler(8000, rate), [0] * low + source[:-low])
        assert later == [0] * high + out[:-high], ("up", rate)
        card = _tone(997, rate, 5 * rate // 50, amplitude=20000)
        out = _run(Resampler(rate, 8000), card)
        later = _run(Resampler(rate, 8000), [0] * high + card[:-high])
        assert later == [0] * low + out[:-low], ("down", rate)


def test_without_history_the_seams_would_show():
    # the same check catches a resampler that forgets its state between periods
    source = _tone(997, 8000, 1600)
    card = []
    for k in range(10):
        fresh = Resampler(8000, 48000)
        card.extend(_unpack(fresh.process(_pack(source[k * 160:(k + 1) * 160]))))
    assert _worst_jump(card, 960, True) > 2 * _worst_jump(card, 960, False)


def test_deterministic_and_reset_forgets_history():
    source = _tone(1500, 8000, 800, amplitude=30000)
    first = Resampler(8000, 44100)
    second = Resampler(8000, 44100)
    assert _run(first, source) == _run(second, source)
    first.reset()
    assert _run(first, source) == _run(Resampler(8000, 44100), source)
    down = Resampler(44100, 8000)
    card = _run(Resampler(8000, 44100), source)
    once = _run(down, card)
    down.reset()
    assert _run(down, card) == once


def test_full_scale_square_wave_stays_in_range():
    square = ([32767] * 20 + [-32768] * 20) * 20
    for rate in (16000, 48000):
        card = _run(Resampler(8000, rate), square)
        assert max(card) == 32767 and min(card) == -32768
        voice = _run(Resampler(rate, 8000), card)
        assert max(voice) <= 32767 and min(voice) >= -32768
        assert max(voice) > 30000 and min(voice) < -30000
