"""The ALSA audio device against real ALSA, without sound hardware.

Each test writes its own ALSA configuration into a temporary directory and
points libasound at it with ALSA_CONFIG_PATH. Playback goes to a PCM of type
``file`` over ``null``: the file plugin stores every frame written, raw, and
the test reads the file back. Capture comes from a ``file`` PCM whose
``infile`` is a raw file the test prepared. The ``null`` plugin has no clock
(it takes and gives samples as fast as asked), so ALSA never reports an xrun
there; recovery from underruns and overruns is checked against a model of
pyalsaaudio that reports them the two ways ALSA does (the PCM state, and
-EPIPE from a transfer).

A test that needs libasound and pyalsaaudio fails, saying how to install them.
"""

import errno
import json
import math
import struct
import time
from pathlib import Path

import pytest

from firmware.core.resample import Resampler
from firmware.hal.rpi.audio import AlsaAudio

ROOT = Path(__file__).resolve().parents[2]
AMPLITUDE = 10000
PREFILL = 2


def require_alsa():
    """pyalsaaudio over libasound, or this test fails saying how to get them."""
    try:
        import alsaaudio
    except ImportError as e:
        pytest.fail("pyalsaaudio/libasound are missing (%s): `make setup` installs them "
                    "(Debian libasound2-dev and alsa-utils, and pyalsaaudio into .venv)" % e)
    return alsaaudio


PLAYBACK = """
pcm.{name} {{
    type file
    slave.pcm {{ type null }}
    file "{path}"
    format "raw"
}}
"""

CAPTURE = """
pcm.{name} {{
    type file
    slave.pcm {{ type null }}
    file "/dev/null"
    infile "{path}"
    format "raw"
}}
"""

# The board files name ALSA devices like plughw:CARD=Device,DEV=0. This
# definition takes that name over: playback of card C device D goes to
# C-D-played.raw, capture comes from C-D-mic.raw.
BOARD_NAMES = """
pcm.plughw {{
    @args [ CARD DEV ]
    @args.CARD {{ type string }}
    @args.DEV {{ type integer default 0 }}
    type asym
    playback.pcm {{
        type file
        slave.pcm {{ type null }}
        file {{ @func concat strings [ "{dir}/" $CARD "-" $DEV "-played.raw" ] }}
        format "raw"
    }}
    capture.pcm {{
        type file
        slave.pcm {{ type null }}
        file "/dev/null"
        infile {{ @func concat strings [ "{dir}/" $CARD "-" $DEV "-mic.raw" ] }}
        format "raw"
    }}
}}
"""


class Card:
    """A temporary ALSA configuration with a ``speaker`` (playback to a file)
    and a ``mic`` (capture from a file)."""

    def __init__(self, tmp_path, monkeypatch):
        self.dir = tmp_path
        self.played = tmp_path / "played.raw"
        self.mic = tmp_path / "mic.raw"
        self.mic.write_bytes(b"")
        conf = tmp_path / "asound.conf"
        conf.write_text(PLAYBACK.format(name="speaker", path=self.played)
                        + CAPTURE.format(name="mic", path=self.mic)
                        + BOARD_NAMES.format(dir=tmp_path))
        monkeypatch.setenv("ALSA_CONFIG_PATH", str(conf))

    def device(self, **options):
        require_alsa()
        return AlsaAudio("mic", "speaker", **options)


@pytest.fixture
def card(tmp_path, monkeypatch):
    return Card(tmp_path, monkeypatch)


def tone(hz, rate, count, amplitude=AMPLITUDE, start=0):
    return [int(amplitude * math.sin(2 * math.pi * hz * (start + i) / rate))
            for i in range(count)]


def pack(samples):
    return struct.pack("<%dh" % len(samples), *samples)


def unpack(pcm):
    return list(struct.unpack("<%dh" % (len(pcm) // 2), pcm))


def fit(samples, hz, rate):
    """(amplitude, rms residual) of the best sine of ``hz`` through ``samples``."""
    n = len(samples)
    w = 2 * math.pi * hz / rate
    a = 2 * sum(v * math.sin(w * i) for i, v in enumerate(samples)) / n
    b = 2 * sum(v * math.cos(w * i) for i, v in enumerate(samples)) / n
    residual = sum((v - a * math.sin(w * i) - b * math.cos(w * i)) ** 2
                   for i, v in enumerate(samples))
    return math.hypot(a, b), math.sqrt(residual / n)


def assert_clean_tone(samples, rate, residual_share):
    """``samples`` are the 1 kHz test tone at its level (within 1 dB), with an rms
    residual below ``residual_share`` of the amplitude."""
    amplitude, residual = fit(samples, 1000, rate)
    assert abs(20 * math.log10(amplitude / AMPLITUDE)) < 1.0, amplitude
    assert residual < residual_share * amplitude, (residual, amplitude)


def read_frames(device, count):
    """``count`` captured periods, polling as the runtime does (bounded)."""
    frames = []
    for _ in range(50 * count):
        frame = device.read_frame()
        if frame is None:
            time.sleep(0.001)
            continue
        frames.append(frame)
        if len(frames) == count:
            return frames
    raise AssertionError("only %d of %d periods captured" % (len(frames), count))


# -- playback ---------------------------------------------------------------


def test_playback_at_8k_reaches_the_file_frame_for_frame(card):
    device = card.device()
    device.open(8000, 160)
    frames = [pack(tone(1000, 8000, 160, start=160 * k)) for k in range(25)]
    for frame in frames:
        device.write_frame(frame)
    assert (device.underruns, device.overruns, device.dropped) == (0, 0, 0)
    device.close()
    played = card.played.read_bytes()
    # the cushion of silence queued at open, then every period, in order
    assert played == bytes(PREFILL * 320) + b"".join(frames)


@pytest.mark.parametrize("rate", [16000, 32000, 44100, 48000])
def test_playback_at_the_card_rate_after_resampling(card, rate):
    up = Resampler(8000, rate)
    device = card.device()
    device.open(rate, up.frames_out)
    assert device.rate == rate and device.period_frames == rate // 50
    voice = tone(1000, 8000, 8000)
    sent = []
    for k in range(50):
        frame = up.process(pack(voice[160 * k:160 * (k + 1)]))
        sent.append(frame)
        device.write_frame(frame)
    device.close()
    played = card.played.read_bytes()
    assert len(played) == (PREFILL + 50) * 2 * rate // 50
    assert played[PREFILL * 2 * rate // 50:] == b"".join(sent)
    # what reached the card is a 1 kHz tone at the card's rate ...
    samples = unpack(played)[(PREFILL + 5) * rate // 50:]
    assert_clean_tone(samples[:rate // 2], rate, 0.04)
    # ... and converts back to the voice that was sent
    down = Resampler(rate, 8000)
    back = []
    for k in range(50):
        back.extend(unpack(down.process(sent[k])))
    assert_clean_tone(back[800:], 8000, 0.01)


# -- capture ------------------------------------------------------------------


def test_capture_at_8k_returns_the_prepared_file_in_order(card):
    ramp = [(i * 37) % 30000 - 15000 for i in range(160 * 12)]
    card.mic.write_bytes(pack(ramp))
    device = card.device()
    device.open(8000, 160)
    frames = read_frames(device, 12)
    assert all(len(frame) == 320 for frame in frames)
    assert b"".join(frames) == pack(ramp)
    assert device.overruns == 0
    device.close()


@pytest.mark.parametrize("rate", [44100, 48000])
def test_capture_at_the_card_rate_resampled_to_8k(card, rate):
    card.mic.write_bytes(pack(tone(1000, rate, rate)))
    down = Resampler(rate, 8000)
    device = card.device()
    device.open(rate, down.frames_in)
    voice = []
    for frame in read_frames(device, 50):
        assert len(frame) == 2 * rate // 50
        voice.extend(unpack(down.process(frame)))
    device.close()
    assert_clean_tone(voice[800:], 8000, 0.01)


def test_a_pause_loses_nothing_on_a_clockless_device(card):
    ramp = [(i * 11) % 20000 - 10000 for i in range(160 * 8)]
    card.mic.write_bytes(pack(ramp))
    device = card.device()
    device.open(8000, 160)
    first = read_frames(device, 3)
    device.write_frame(first[0])
    time.sleep(0.15)  # several periods without reading or writing
    rest = read_frames(device, 5)
    device.write_frame(rest[0])
    # ALSA reported no xrun (null has no clock): nothing counted, nothing lost
    assert (device.underruns, device.overruns, device.dropped) == (0, 0, 0)
    assert b"".join(first + rest) == pack(ramp)
    device.close()
    assert card.played.read_bytes() == bytes(PREFILL * 320) + first[0] + rest[0]


# -- names, errors, integration points -----------------------------------------


def test_device_names_from_the_board_files(card):
    require_alsa()
    boards = [json.loads(path.read_text()) for path in sorted((ROOT / "boards").glob("*.json"))]
    boards = [b for b in boards if b["backend"] == "rpi" and "audio" in b]
    assert boards, "no rpi board with an audio section"
    for board in boards:
        audio = board["audio"]
        rate = audio["rate"]
        frames = rate * audio.get("period_ms", 20) // 1000
        name = audio["capture"]
        assert name.startswith("plughw:CARD="), name
        card_name = name.split("CARD=")[1].split(",")[0]
        mic = card.dir / ("%s-0-mic.raw" % card_name)
        mic.write_bytes(pack(tone(440, rate, frames * 4)))
        device = AlsaAudio(audio["capture"], audio["playback"])
        device.open(rate, frames)
        captured = read_frames(device, 4)
        for frame in captured:
            device.write_frame(frame)
        device.close()
        assert b"".join(captured) == mic.read_bytes()
        played = (card.dir / ("%s-0-played.raw" % card_name)).read_bytes()
        assert played == bytes(PREFILL * 2 * frames) + b"".join(captured)


def test_an_unknown_device_is_an_error_that_names_it(card):
    require_alsa()
    device = AlsaAudio("mic", "no_such_speaker")
    with pytest.raises(OSError) as info:
        device.open(8000, 160)
    assert "no_such_speaker" in str(info.value) and "playback" in str(info.value)
    assert not device.is_open
    device = AlsaAudio("no_such_mic", "speaker")
    with pytest.raises(OSError) as info:
        device.open(8000, 160)
    assert "no_such_mic" in str(info.value)


def test_poll_descriptors_for_the_event_loop(card):
    device = card.device()
    device.open(8000, 160)
    fds = device.poll_fds()
    assert fds and all(isinstance(fd, int) and fd >= 0 for fd, _ in fds)
    device.close()
    with pytest.raises(OSError):
        device.poll_fds()


def test_reopen_after_close(card):
    device = card.device()
    device.open(8000, 160)
    device.write_frame(bytes(320))
    device.close()
    device.close()
    with pytest.raises(OSError):
        device.read_frame()
    device.open(16000, 320)
    device.write_frame(b"\x01\x00" * 320)
    device.close()
    assert card.played.read_bytes() == bytes(PREFILL * 640) + b"\x01\x00" * 320


# -- xrun recovery, against a model of pyalsaaudio -------------------------------


class FakeAlsa:
    """pyalsaaudio 0.11 as far as AlsaAudio uses it, with a card clock the test
    moves. ``lazy`` xruns show only as -EPIPE from the next transfer (plugins
    notice them then); otherwise the state turns XRUN at once (hw devices)."""

    PCM_PLAYBACK = 0
    PCM_CAPTURE = 1
    PCM_NORMAL = 0
    PCM_NONBLOCK = 1
    PCM_FORMAT_S16_LE = 2
    PCM_STATE_SETUP = 1
    PCM_STATE_PREPARED = 2
    PCM_STATE_RUNNING = 3
    PCM_STATE_XRUN = 4

    class ALSAAudioError(Exception):
        pass

    def __init__(self, lazy=False, offered_rate=None, missing=(), chunk=None):
        self.lazy = lazy
        self.chunk = chunk  # frames per read, when ALSA's period is not ours
        self.offered_rate = offered_rate
        self.missing = missing
        self.pcms = []

    def PCM(self, type, mode, rate, channels, format, periodsize, periods, device):  # noqa: N802
        if device in self.missing:
            raise self.ALSAAudioError("No such file or directory [%s]" % device)
        assert mode == self.PCM_NONBLOCK and channels == 1 and format == self.PCM_FORMAT_S16_LE
        pcm = FakePCM(self, type, self.offered_rate or rate, periodsize, periods)
        self.pcms.append(pcm)
        return pcm

    def tick(self, frames):
        for pcm in self.pcms:
            pcm.tick(frames)


class FakePCM:
    def __init__(self, alsa, kind, rate, period, periods):
        self.alsa = alsa
        self.kind = kind
        self.rate = rate
        self.period = period
        self.size = period * periods
        self.fill = 0
        self.status = alsa.PCM_STATE_PREPARED
        self.xrun_pending = False
        self.written = []
        self.next_sample = 0
        self.closed = False

    def info(self):
        return {"rate": self.rate, "channels": 1, "format_name": "S16_LE",
                "period_size": self.period}

    def state(self):
        return self.status

    def _xrun(self):
        self.fill = 0
        if self.alsa.lazy:
            self.xrun_pending = True
        else:
            self.status = self.alsa.PCM_STATE_XRUN

    def tick(self, frames):
        if self.closed or self.status != self.alsa.PCM_STATE_RUNNING or self.xrun_pending:
            return
        if self.kind == self.alsa.PCM_PLAYBACK:
            self.fill -= frames
            if self.fill < 0:
                self._xrun()
        else:
            self.fill += frames
            if self.fill > self.size:
                self.next_sample += self.fill - self.size  # lost
                self._xrun()

    def _auto_prepare(self):
        # what pyalsaaudio 0.11 does before every read/write
        if self.status in (self.alsa.PCM_STATE_XRUN, self.alsa.PCM_STATE_SETUP):
            self.status = self.alsa.PCM_STATE_PREPARED
            self.fill = 0

    def avail(self):
        if self.kind == self.alsa.PCM_PLAYBACK:
            return self.size - self.fill
        return self.fill

    def write(self, data):
        assert self.kind == self.alsa.PCM_PLAYBACK and not self.closed
        self._auto_prepare()
        if self.xrun_pending:
            self.xrun_pending = False
            self.status = self.alsa.PCM_STATE_XRUN
            return -errno.EPIPE
        frames = min(len(data) // 2, self.size - self.fill)
        if frames == 0:
            return 0
        self.fill += frames
        self.written.append(bytes(data[:2 * frames]))
        self.status = self.alsa.PCM_STATE_RUNNING
        return frames

    def read(self):
        assert self.kind == self.alsa.PCM_CAPTURE and not self.closed
        self._auto_prepare()
        if self.xrun_pending:
            self.xrun_pending = False
            self.status = self.alsa.PCM_STATE_XRUN
            return -errno.EPIPE, b""
        self.status = self.alsa.PCM_STATE_RUNNING
        chunk = self.alsa.chunk or self.period
        if self.fill < chunk:
            return 0, b""
        self.fill -= chunk
        first = self.next_sample
        self.next_sample += chunk
        return chunk, pack([(first + i) % 30000 for i in range(chunk)])

    def drop(self):
        self.status = self.alsa.PCM_STATE_SETUP
        self.fill = 0
        self.xrun_pending = False
        return 0

    def polldescriptors(self):
        return [(99, 1)]

    def close(self):
        self.closed = True


def _open_fake(**options):
    alsa = FakeAlsa(**options)
    device = AlsaAudio("mic", "speaker", alsa=alsa)
    device.open(8000, 160)
    playback, capture = alsa.pcms
    return alsa, device, playback, capture


def _first_sample(frame):
    return struct.unpack_from("<h", frame, 0)[0]


def test_read_returns_none_until_a_period_is_captured():
    alsa, device, _, _ = _open_fake()
    assert device.read_frame() is None
    alsa.tick(100)
    assert device.read_frame() is None
    alsa.tick(100)
    frame = device.read_frame()
    assert len(frame) == 320 and _first_sample(frame) == 0
    assert device.read_frame() is None
    alsa.tick(320)
    assert [_first_sample(device.read_frame()) for _ in range(2)] == [160, 320]
    assert device.overruns == 0


@pytest.mark.parametrize("lazy", [False, True])
def test_overrun_is_counted_once_and_capture_restarts(lazy):
    alsa, device, _, capture = _open_fake(lazy=lazy)
    alsa.tick(160)
    assert _first_sample(device.read_frame()) == 0
    alsa.tick(160 * 10)  # the ring holds 4 periods: audio is lost
    assert device.read_frame() is None
    assert device.overruns == 1
    assert capture.state() != alsa.PCM_STATE_XRUN
    assert device.read_frame() is None
    assert device.overruns == 1
    alsa.tick(160)
    after = device.read_frame()
    assert after is not None and _first_sample(after) > 160 * 5
    assert device.overruns == 1


@pytest.mark.parametrize("lazy", [False, True])
def test_underrun_is_counted_once_and_playback_restarts_with_a_cushion(lazy):
    alsa, device, playback, _ = _open_fake(lazy=lazy)
    assert playback.written == [bytes(320)] * PREFILL
    voice = b"\x05\x00" * 160
    device.write_frame(voice)
    alsa.tick(160 * 6)  # the card played everything queued and ran dry
    playback.written = []
    device.write_frame(voice)
    assert device.underruns == 1
    assert playback.written == [bytes(320)] * PREFILL + [voice]
    assert playback.fill == 160 * (PREFILL + 1)
    alsa.tick(160)
    device.write_frame(voice)
    assert device.underruns == 1 and device.dropped == 0


def test_underrun_without_a_cushion_restarts_on_the_next_period():
    alsa = FakeAlsa()
    device = AlsaAudio("mic", "speaker", prefill=0, alsa=alsa)
    device.open(8000, 160)
    playback = alsa.pcms[0]
    assert playback.written == []
    voice = b"\x03\x00" * 160
    device.write_frame(voice)
    alsa.tick(320)
    device.write_frame(voice)
    assert device.underruns == 1 and device.dropped == 0
    assert playback.written == [voice, voice] and playback.fill == 160


def test_a_full_buffer_drops_the_period_instead_of_waiting():
    alsa, device, playback, _ = _open_fake()
    voice = b"\x07\x00" * 160
    device.write_frame(voice)
    device.write_frame(voice)
    assert device.dropped == 0 and playback.fill == playback.size
    device.write_frame(voice)
    assert device.dropped == 1 and device.underruns == 0
    alsa.tick(80)  # room for half a period: no half period is queued
    queued = len(playback.written)
    device.write_frame(voice)
    assert device.dropped == 2 and len(playback.written) == queued
    alsa.tick(80)
    device.write_frame(voice)
    assert device.dropped == 2 and playback.written[-1] == voice


def test_alsa_periods_smaller_than_ours_are_collected():
    alsa = FakeAlsa(chunk=80)
    device = AlsaAudio("mic", "speaker", alsa=alsa)
    device.open(8000, 160)
    alsa.tick(240)
    frame = device.read_frame()
    assert len(frame) == 320 and unpack(frame) == list(range(160))
    assert device.read_frame() is None  # half a period waits for its other half
    alsa.tick(800)  # overrun: the half collected before the gap is thrown away
    assert device.read_frame() is None and device.overruns == 1
    alsa.tick(160)
    frame = device.read_frame()
    assert unpack(frame) == [(unpack(frame)[0] + i) for i in range(160)]
    assert unpack(frame)[0] >= 240


def test_a_rate_the_device_cannot_run_is_refused():
    alsa = FakeAlsa(offered_rate=48000)
    device = AlsaAudio("hw:1,0", "hw:1,0", alsa=alsa)
    with pytest.raises(OSError) as info:
        device.open(8000, 160)
    assert "48000" in str(info.value) and "plughw" in str(info.value)
    assert all(pcm.closed for pcm in alsa.pcms)
    assert not device.is_open


def test_a_missing_capture_device_closes_the_playback_one():
    alsa = FakeAlsa(missing=("mic",))
    device = AlsaAudio("mic", "speaker", alsa=alsa)
    with pytest.raises(OSError) as info:
        device.open(8000, 160)
    assert "'mic'" in str(info.value) and "audio.capture" in str(info.value)
    assert [pcm.closed for pcm in alsa.pcms] == [True]


def test_wrong_period_size_is_refused():
    _, device, _, _ = _open_fake()
    with pytest.raises(ValueError):
        device.write_frame(bytes(318))


def test_counters_restart_at_open():
    alsa, device, _, _ = _open_fake()
    alsa.tick(160 * 10)
    device.write_frame(bytes(320))
    device.read_frame()
    assert device.underruns == 1 and device.overruns == 1
    device.close()
    device.open(8000, 160)
    assert (device.underruns, device.overruns, device.dropped) == (0, 0, 0)


def test_missing_pyalsaaudio_message_says_how_to_install(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_alsa(name, *args, **kwargs):
        if name == "alsaaudio":
            raise ImportError("No module named 'alsaaudio'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_alsa)
    with pytest.raises(ImportError) as info:
        AlsaAudio("mic", "speaker").open(8000, 160)
    assert "make setup" in str(info.value)

