"""The media path end to end: a simulated phone hears itself through sipp's RTP echo.

Rule: tools/phonesim (a subprocess, on the simulated board, real clock)
registers with Kamailio over TLS and calls sipp, which answers through the
proxy and echoes every RTP packet back (``-rtp_echo``). The phone's microphone
is a WAV file at 44.1 kHz (so the tool's conversion to the card's 8 kHz is part
of the path) repeating a one-second pattern: 100 ms of silence (the first
packet of a new source is not played: RFC 3550 probation), an 80 ms chirp, a
gap, 600 ms of 1 kHz, a gap. The speaker WAV the phone records from the moment the call
connects must hold the pattern back: the 1 kHz bin far above every other bin
in each tone stretch, near nothing in the gaps, and each chirp found again by
cross-correlation with the microphone as the card captured it (the same
conversion to 8 kHz), which gives the round-trip delay (microphone to speaker,
through encoder, UDP, sipp, jitter buffer and decoder). The figures are
printed; they are checked only for sanity, never against a timing goal.
"""

import math
import operator
import struct

from phonetest import (KamailioPool, certs, goertzel, named, phone_config, run_phonesim,
                       sipp_call_script)

from firmware.core.resample import Resampler
from firmware.hal.sim.audio import read_wav, write_wav
from tools.peers import Sipp, free_port_pair

__all__ = ["certs"]          # the session fixture, imported for pytest

MIC_RATE = 44100
RATE = 8000                  # the speaker WAV (boards/sim.json's card rate)
CYCLE_S = 1.0
CHIRP = (0.100, 0.180, 300.0, 3400.0)  # start, end (s), from, to (Hz)
TONE = (0.250, 0.850, 1000.0)          # start, end (s), Hz
GAP = (0.870, 0.990)                   # a stretch of silence measured (s)
CALL_S = 4.0
OTHER_BINS = (400.0, 700.0, 1300.0, 1600.0, 2000.0, 2600.0, 3200.0)
MAX_LAG_S = 0.5

SCRIPT = sipp_call_script(CALL_S)


# --- the signal ---------------------------------------------------------------------

def pattern_sample(t):
    """The microphone's pattern at time t (seconds), one cycle per second."""
    t = t % CYCLE_S
    start, end, f0, f1 = CHIRP
    if start <= t < end:
        u = t - start
        rate = (f1 - f0) / (end - start)
        return 10000.0 * math.sin(2 * math.pi * (f0 * u + rate * u * u / 2))
    start, end, hz = TONE
    if start <= t < end:
        ramp = min(1.0, (t - start) / 0.005, (end - t) / 0.005)
        return 8000.0 * ramp * math.sin(2 * math.pi * hz * (t - start))
    return 0.0


def pattern(rate, seconds):
    count = int(rate * seconds)
    return [int(round(pattern_sample(n / rate))) for n in range(count)]


def captured(samples):
    """One cycle of the microphone as the simulated card captures it: converted
    to 8 kHz as tools/phonesim converts it (Resampler, one-second blocks)."""
    converter = Resampler(MIC_RATE, RATE, 1000)
    pcm = converter.process(struct.pack("<%dh" % len(samples), *samples))
    return list(struct.unpack("<%dh" % (len(pcm) // 2), pcm))


# --- measurements -------------------------------------------------------------------

def db(ratio):
    return 10.0 * math.log10(max(ratio, 1e-12))


def envelope(values, block):
    """Mean absolute value per block of samples."""
    return [sum(map(abs, values[i:i + block])) / block
            for i in range(0, len(values) - block + 1, block)]


def dot(a, b):
    return sum(map(operator.mul, a, b))


def coarse_lag(speaker, cycle_start, mic, block=8):
    """The lag (samples, a multiple of ``block``) at which the speaker's envelope
    best matches the microphone cycle starting at ``cycle_start``."""
    reference = envelope(mic, block)
    mean = sum(reference) / len(reference)
    reference = [v - mean for v in reference]
    heard = envelope(speaker, block)
    first = cycle_start // block
    best = None
    for lag in range(0, int(MAX_LAG_S * RATE) // block):
        window = heard[first + lag:first + lag + len(reference)]
        if len(window) < len(reference):
            break
        score = dot(window, reference)
        if best is None or score > best[0]:
            best = (score, lag * block)
    return best[1] if best else None


def fine_lag(speaker, cycle_start, around, chirp, span=48):
    """The sample lag near ``around`` where the chirp of this cycle correlates best,
    and the normalised correlation there (1.0 = identical shape)."""
    norm_ref = math.sqrt(dot(chirp, chirp))
    best = None
    for lag in range(max(0, around - span), around + span + 1):
        at = cycle_start + lag
        window = speaker[at:at + len(chirp)]
        if len(window) < len(chirp):
            break
        energy = dot(window, window)
        if energy == 0:
            continue
        score = dot(window, chirp) / (norm_ref * math.sqrt(energy))
        if best is None or score > best[0]:
            best = (score, lag)
    return best


def analyse(speaker, mic):
    """Per microphone cycle heard back: (delay ms, chirp correlation, tone dB over
    the strongest other bin, the largest sample in the gap after it)."""
    chirp_from = int(CHIRP[0] * RATE)
    chirp = mic[chirp_from:int(CHIRP[1] * RATE)]
    results = []
    cycle = 0
    while (cycle + 1) * CYCLE_S * RATE + MAX_LAG_S * RATE <= len(speaker):
        start = int(cycle * CYCLE_S * RATE)
        coarse = coarse_lag(speaker, start, mic)
        score, lag = fine_lag(speaker, start + chirp_from, coarse, chirp)
        tone_from = start + lag + int((TONE[0] + 0.05) * RATE)
        tone_to = start + lag + int((TONE[1] - 0.05) * RATE)
        tone = speaker[tone_from:tone_to]
        at_tone = goertzel(tone, TONE[2])
        others = max(goertzel(tone, hz) for hz in OTHER_BINS)
        gap = speaker[start + lag + int(GAP[0] * RATE):start + lag + int(GAP[1] * RATE)]
        results.append((1000.0 * lag / RATE, score, db(at_tone / max(others, 1e-9)),
                        max(map(abs, gap))))
        cycle += 1
    return results


# --- the run -------------------------------------------------------------------------

def test_phone_hears_its_microphone_back_through_sipp_rtp_echo(tmp_path, certs):
    mic = tmp_path / "mic.wav"
    speaker = tmp_path / "speaker.wav"
    samples = pattern(MIC_RATE, CYCLE_S)
    write_wav(str(mic), MIC_RATE, struct.pack("<%dh" % len(samples), *samples))

    with KamailioPool(tmp_path, certs) as pool, \
            Sipp.uas(tmp_path / "uas", rtp_echo=True, timeout_s=30) as uas:
        kam = pool.start(remote_port=uas.port)
        doc = phone_config(certs, kam, media={"rtp_port": free_port_pair(1)})
        code, output, events = run_phonesim(tmp_path, doc, SCRIPT, "--mic", mic,
                                            "--speaker", speaker)
    assert code == 0, output
    assert "PASS all expectations held" in output

    starts, stops = named(events, "RTP_START"), named(events, "RTP_STOP")
    assert len(starts) == 1 and len(stops) == 1, output
    start = starts[0]
    assert start.field("codec") == "PCMU" and start.field("direction") == "sendrecv", start
    assert start.field("remote") == "127.0.0.1:%d" % uas.media_port, start
    sent, received = int(stops[0].field("sent")), int(stops[0].field("received"))
    # the card's clock: one 20 ms packet per period for the whole call
    assert 0.9 * CALL_S * 50 <= sent <= 1.1 * CALL_S * 50 + 5, stops[0]
    assert received >= 0.9 * sent, stops[0]

    rate, pcm = read_wav(str(speaker))
    assert rate == RATE
    heard = list(struct.unpack("<%dh" % (len(pcm) // 2), pcm))
    assert len(heard) >= 0.9 * CALL_S * RATE, "the speaker WAV covers the call"
    results = analyse(heard, captured(samples))
    print("\nspeaker WAV: %.2f s at %d Hz; RTP sent %d, echoed back %d"
          % (len(heard) / RATE, RATE, sent, received))
    for index, (delay, score, tone_db, gap_peak) in enumerate(results):
        print("cycle %d: round-trip delay %.1f ms (chirp correlation %.3f); 1 kHz %.1f dB "
              "above the strongest other bin; largest sample in the gap %d"
              % (index, delay, score, tone_db, gap_peak))
    assert len(results) >= CALL_S - 1, results
    delays = [r[0] for r in results]
    print("round-trip delay: min %.1f ms, max %.1f ms" % (min(delays), max(delays)))
    for delay, score, tone_db, gap_peak in results:
        assert score > 0.9, results        # the chirp came back, in shape
        assert tone_db > 30.0, results     # the 1 kHz tone came back, clean
        assert gap_peak < 100, results     # and the gaps stayed quiet (tone peak 8000)
        assert 20.0 <= delay <= 400.0, results
    # silence until the first chirp's echo: the WAV starts at the answer
    first_sound = 1000.0 * next(i for i, v in enumerate(heard) if abs(v) > 200) / RATE
    assert abs(first_sound - 1000.0 * CHIRP[0] - delays[0]) < 5.0, (first_sound, delays)
