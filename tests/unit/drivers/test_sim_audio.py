"""The simulated sound card: periods, virtual-time pacing, underruns, overruns."""

import math
import struct

from firmware.hal.sim.audio import SimAudio

RATE = 8000
PERIOD = 160  # 20 ms


def samples(pcm):
    return [struct.unpack_from("<h", pcm, 2 * i)[0] for i in range(len(pcm) // 2)]


def test_free_running_tone_is_a_sine_of_the_right_pitch():
    dev = SimAudio("tone:1000", "memory")
    dev.open(RATE, PERIOD)
    pcm = dev.read_frame() + dev.read_frame()
    values = samples(pcm)
    assert len(values) == 2 * PERIOD
    crossings = sum(1 for i in range(1, len(values)) if values[i - 1] < 0 <= values[i])
    assert crossings in (39, 40)  # 1 kHz for 40 ms
    assert max(values) > 7000 and min(values) < -7000
    assert abs(values[2] - int(8000 * math.sin(2 * math.pi * 1000 * 2 / RATE))) <= 1


def test_silence_and_playback_into_memory():
    dev = SimAudio("silence", "memory")
    dev.open(RATE, PERIOD)
    assert dev.read_frame() == bytes(2 * PERIOD)
    dev.write_frame(b"\x01\x00" * PERIOD)
    assert bytes(dev.played) == b"\x01\x00" * PERIOD
    try:
        dev.write_frame(b"\x00" * 10)
    except ValueError:
        pass
    else:
        raise AssertionError("a short period was accepted")


def test_capture_is_paced_by_the_virtual_clock():
    now = [0.0]
    dev = SimAudio("tone:440", "null", clock=lambda: now[0])
    dev.open(RATE, PERIOD)
    assert dev.read_frame() is None  # nothing captured yet
    now[0] = 0.02
    assert dev.read_frame() is not None
    assert dev.read_frame() is None
    now[0] = 0.2  # 10 periods captured, 1 read: the 4-period buffer overflowed
    got = 0
    while dev.read_frame() is not None:
        got += 1
    assert got == 4 and dev.overruns == 1


def test_late_playback_is_an_underrun_filled_with_silence():
    now = [0.0]
    dev = SimAudio("silence", "memory", clock=lambda: now[0])
    dev.open(RATE, PERIOD)
    frame = b"\x10\x00" * PERIOD
    for k in range(3):
        now[0] = 0.02 * k
        dev.write_frame(frame)
    assert dev.underruns == 0
    now[0] = 0.1  # periods 3 and 4 were never written
    dev.write_frame(frame)
    assert dev.underruns == 1
    assert len(dev.played) == 6 * 2 * PERIOD
    assert bytes(dev.played[3 * 320:5 * 320]) == bytes(2 * 320)


def test_device_must_be_open():
    dev = SimAudio()
    try:
        dev.read_frame()
    except OSError:
        pass
    else:
        raise AssertionError("read from a closed device")
