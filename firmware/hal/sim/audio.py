"""A simulated PCM device: capture from a tone, silence or a WAV file; playback
into memory or a WAV file.

Rule: the device keeps time like a sound card. With a clock it captures one
period every ``period_frames / rate`` seconds of (virtual) time: reading ahead
of that gives None, reading too late loses the oldest periods (an overrun);
playback that falls behind the card plays silence in the gap (an underrun).
Without a clock it is free-running: every read gets the next period and no
xrun ever happens. Samples are signed 16-bit little-endian mono.

Device names (as written in a board file):
  capture:  ``tone:<hz>`` | ``silence`` | ``wav:<path>`` (looped)
  playback: ``null`` | ``memory`` | ``wav:<path>`` (written on close)
"""

import math
import struct

from firmware.hal.api import AudioDevice

CAPTURE_BUFFER_PERIODS = 4


def read_wav(path):
    """(rate, pcm bytes) of a 16-bit mono PCM WAV file."""
    with open(path, "rb") as f:
        blob = f.read()
    if blob[0:4] != b"RIFF" or blob[8:12] != b"WAVE":
        raise ValueError("%s: not a RIFF/WAVE file" % path)
    pos = 12
    rate = None
    while pos + 8 <= len(blob):
        tag = blob[pos:pos + 4]
        size = struct.unpack_from("<I", blob, pos + 4)[0]
        body = pos + 8
        if tag == b"fmt ":
            fmt, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", blob, body)
            if fmt != 1 or channels != 1 or bits != 16:
                raise ValueError("%s: need 16-bit mono PCM" % path)
        elif tag == b"data":
            if rate is None:
                raise ValueError("%s: data before fmt chunk" % path)
            return rate, bytes(blob[body:body + size])
        pos = body + size + (size & 1)
    raise ValueError("%s: no data chunk" % path)


def write_wav(path, rate, pcm):
    header = (
        b"RIFF" + struct.pack("<I", 36 + len(pcm)) + b"WAVE"
        + b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
        + b"data" + struct.pack("<I", len(pcm))
    )
    with open(path, "wb") as f:
        f.write(header)
        f.write(pcm)


class _Tone:
    __slots__ = ("hz", "amplitude", "phase")

    def __init__(self, hz, amplitude=8000):
        self.hz = hz
        self.amplitude = amplitude
        self.phase = 0.0

    def period(self, rate, frames):
        out = bytearray(2 * frames)
        step = 2.0 * math.pi * self.hz / rate
        phase = self.phase
        for i in range(frames):
            struct.pack_into("<h", out, 2 * i, int(self.amplitude * math.sin(phase)))
            phase += step
        self.phase = phase % (2.0 * math.pi)
        return bytes(out)


class _Samples:
    """PCM from a file, played in a loop, resampled to the device rate by
    nearest sample (a tool that wants better converts the file first)."""

    __slots__ = ("rate", "pcm", "position")

    def __init__(self, rate, pcm):
        self.rate = rate
        self.pcm = pcm
        self.position = 0.0

    def period(self, rate, frames):
        out = bytearray(2 * frames)
        total = len(self.pcm) // 2
        ratio = self.rate / rate
        for i in range(frames):
            index = int(self.position)
            if index >= total > 0:
                self.position -= total
                index = int(self.position)
            if index < total:
                out[2 * i] = self.pcm[2 * index]
                out[2 * i + 1] = self.pcm[2 * index + 1]
            self.position += ratio
        return bytes(out)


class SimAudio(AudioDevice):
    """The simulated sound card. ``played`` holds every period played so far."""

    def __init__(self, capture="silence", playback="memory", clock=None):
        self.capture_name = capture
        self.playback_name = playback
        self.clock = clock
        self.played = bytearray()
        self.rate = 0
        self.period_frames = 0
        self.underruns = 0
        self.overruns = 0
        self.is_open = False
        self._source = None
        self._start = 0.0
        self._captured = 0
        self._read = 0
        self._written = 0

    def open(self, rate, period_frames):
        if rate <= 0 or period_frames <= 0:
            raise ValueError("rate and period_frames must be positive")
        self.rate = rate
        self.period_frames = period_frames
        self.underruns = 0
        self.overruns = 0
        self.played = bytearray()
        self._source = self._make_source(self.capture_name)
        self._start = self.clock() if self.clock else 0.0
        self._captured = 0
        self._read = 0
        self._written = 0
        self.is_open = True

    def _make_source(self, name):
        if name == "silence":
            return None
        if name.startswith("tone:"):
            return _Tone(float(name[5:]))
        if name.startswith("wav:"):
            rate, pcm = read_wav(name[4:])
            return _Samples(rate, pcm)
        raise ValueError("unknown capture device %r" % name)

    def _periods_elapsed(self):
        seconds = self.clock() - self._start
        return int(seconds * self.rate / self.period_frames + 1e-9)

    def _next_capture(self):
        if self._source is None:
            return bytes(2 * self.period_frames)
        return self._source.period(self.rate, self.period_frames)

    def read_frame(self):
        self._check_open()
        if self.clock is None:
            self._read += 1
            return self._next_capture()
        # periods the card has captured by now (the first one completes after one period)
        ready = self._periods_elapsed()
        if ready <= self._read:
            return None
        if ready - self._read > CAPTURE_BUFFER_PERIODS:
            lost = ready - self._read - CAPTURE_BUFFER_PERIODS
            for _ in range(lost):
                self._next_capture()
            self._read += lost
            self.overruns += 1
        self._read += 1
        return self._next_capture()

    def write_frame(self, pcm):
        self._check_open()
        if len(pcm) != 2 * self.period_frames:
            raise ValueError("a period is %d bytes, got %d" % (2 * self.period_frames, len(pcm)))
        if self.clock is not None:
            # the card plays period k during [k, k+1) periods after open: period
            # ``due`` is playing now, so one not written by now came too late
            due = self._periods_elapsed()
            if self._written < due:
                gap = due - self._written
                self._emit(bytes(2 * self.period_frames * gap))
                self._written += gap
                self.underruns += 1
        self._emit(pcm)
        self._written += 1

    def _emit(self, pcm):
        if self.playback_name != "null":
            self.played.extend(pcm)

    def close(self):
        if not self.is_open:
            return
        self.is_open = False
        if self.playback_name.startswith("wav:"):
            write_wav(self.playback_name[4:], self.rate, bytes(self.played))

    def _check_open(self):
        if not self.is_open:
            raise OSError("audio device is not open")
