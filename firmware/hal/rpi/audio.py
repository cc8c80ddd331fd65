# Runs on CPython only, on the board itself (pyalsaaudio); layercheck knows hal/rpi/.
"""The ``hal.api`` audio device over ALSA, through pyalsaaudio.

Rule: the device never blocks the event loop. Both PCMs are opened in ALSA's
non-blocking mode (``PCM_NONBLOCK``) and the runtime polls them once per
media tick: ``read_frame()`` returns None when no whole period has been
captured yet (pyalsaaudio's ``read`` answers ``(0, b'')``), and
``write_frame()`` returns at once. A runtime that would rather sleep until
the card has something can wait on ``poll_fds()`` (the capture PCM's poll
descriptors, for ``loop.add_reader``) and then call ``read_frame()`` until it
returns None; a spurious wake-up just gives None.

Samples are signed 16-bit little-endian mono at the rate given to ``open``:
either 8000 (on a ``plughw:`` device ALSA converts to the card's own rate) or
the card's rate (48000 on most USB adapters), in which case the caller puts
``firmware.core.resample.Resampler`` between this device and the 8 kHz voice
path. The rate is checked: a ``hw:`` device that cannot run at the rate asked
is an error that says so, never a silently different rate.

Xruns are recovered and counted. Before every transfer the PCM's state is
looked at, and a transfer that answers -EPIPE is taken the same way:

- underrun (playback starved): ``underruns`` += 1, the PCM is dropped and
  restarted with ``prefill`` periods of silence ahead of the new audio;
- overrun (capture not read in time, audio lost): ``overruns`` += 1, the half
  period collected before the gap is thrown away and capture restarts.

Playback keeps ``prefill`` periods (40 ms by default) queued as a cushion
against a late tick. When the card's buffer has no room for a period (the
network delivers faster than the card plays), the period is dropped and
counted in ``dropped`` instead of blocking.
"""

import errno

from firmware.hal.api import AudioDevice

# periods in the ALSA ring buffer (80 ms at 20 ms periods)
PERIODS = 4
# periods of silence queued at start and after an underrun (40 ms)
PREFILL = 2
# reads tried per read_frame call before giving up until the next tick
MAX_READS = 4

MISSING = ("pyalsaaudio (module alsaaudio) is not installed: `make setup` installs it "
           "with libasound2-dev; on the board, pip install -r requirements/device.txt")


def _load_alsa():
    try:
        import alsaaudio
    except ImportError as e:
        raise ImportError("%s (%s)" % (MISSING, e)) from None
    return alsaaudio


class AlsaAudio(AudioDevice):
    """A capture and a playback PCM, named as in the board file's ``audio``
    section (``plughw:CARD=Device,DEV=0``, ``hw:1,0``, ``default``, ...).

    ``alsa`` is the pyalsaaudio module (imported on ``open`` when None); tests
    pass a model of it.
    """

    def __init__(self, capture, playback, periods=PERIODS, prefill=PREFILL, alsa=None):
        if periods < 2 or not 0 <= prefill < periods:
            raise ValueError("need periods >= 2 and 0 <= prefill < periods")
        self.capture_name = capture
        self.playback_name = playback
        self.periods = periods
        self.prefill = prefill
        self.rate = 0
        self.period_frames = 0
        self.underruns = 0
        self.overruns = 0
        self.dropped = 0
        self.is_open = False
        self._alsa = alsa
        self._capture = None
        self._playback = None
        self._captured = bytearray()
        self._silence = b""

    # -- opening and closing ---------------------------------------------

    def open(self, rate, period_frames):
        if self.is_open:
            raise OSError("audio device is already open")
        if rate <= 0 or period_frames <= 0:
            raise ValueError("rate and period_frames must be positive")
        if self._alsa is None:
            self._alsa = _load_alsa()
        self.rate = rate
        self.period_frames = period_frames
        self.underruns = 0
        self.overruns = 0
        self.dropped = 0
        self._captured = bytearray()
        self._silence = bytes(2 * period_frames)
        try:
            self._playback = self._open_pcm(self._alsa.PCM_PLAYBACK, self.playback_name,
                                            "playback")
            self._capture = self._open_pcm(self._alsa.PCM_CAPTURE, self.capture_name, "capture")
            self.is_open = True
            self._queue_silence()
            self._start_capture()
        except BaseException:
            self.is_open = False
            self._close_pcms()
            raise

    def _open_pcm(self, kind, name, what):
        alsa = self._alsa
        try:
            pcm = alsa.PCM(type=kind, mode=alsa.PCM_NONBLOCK, rate=self.rate, channels=1,
                           format=alsa.PCM_FORMAT_S16_LE, periodsize=self.period_frames,
                           periods=self.periods, device=name)
        except alsa.ALSAAudioError as e:
            raise OSError("audio: cannot open %s device %r at %d Hz: %s (check audio.%s and "
                          "audio.rate in the board file; `aplay -L` lists the devices)"
                          % (what, name, self.rate, e, what)) from None
        info = pcm.info()
        if info.get("rate") != self.rate or info.get("channels") != 1 \
                or info.get("format_name") != "S16_LE":
            pcm.close()
            raise OSError("audio: %s device %r cannot run at %d Hz, 16-bit mono (it offers "
                          "%s Hz, %s channel(s), %s): use a plughw: device or set audio.rate "
                          "to the card's rate" % (what, name, self.rate, info.get("rate"),
                                                  info.get("channels"), info.get("format_name")))
        return pcm

    def close(self):
        if not self.is_open:
            return
        self.is_open = False
        self._close_pcms()
        self._captured = bytearray()

    def _close_pcms(self):
        """Stop at once (queued audio is dropped, not played out) and close."""
        for pcm in (self._playback, self._capture):
            if pcm is None:
                continue
            try:
                pcm.drop()
            except self._alsa.ALSAAudioError:
                pass
            pcm.close()
        self._playback = None
        self._capture = None

    def poll_fds(self):
        """(fd, event mask) pairs that become ready when capture has data."""
        self._check_open()
        return list(self._capture.polldescriptors())

    # -- capture ----------------------------------------------------------

    def read_frame(self):
        """One captured period (``2 * period_frames`` bytes), or None if not ready."""
        self._check_open()
        need = 2 * self.period_frames
        tries = 0
        while len(self._captured) < need and tries < MAX_READS:
            tries += 1
            if not self._pull():
                break
        if len(self._captured) < need:
            return None
        frame = bytes(self._captured[:need])
        del self._captured[:need]
        return frame

    def _pull(self):
        """Read what the card has; False when nothing (more) is ready."""
        alsa = self._alsa
        pcm = self._capture
        if pcm.state() == alsa.PCM_STATE_XRUN:
            self._overrun()
        try:
            count, data = pcm.read()
        except alsa.ALSAAudioError as e:
            if pcm.state() != alsa.PCM_STATE_XRUN:
                raise OSError("audio: capture from %r failed: %s" % (self.capture_name, e)) \
                    from None
            count, data = -errno.EPIPE, b""
        if count == -errno.EPIPE:
            self._overrun()
            return False
        if count < 0:
            raise OSError("audio: capture from %r failed: %s"
                          % (self.capture_name, errno.errorcode.get(-count, count)))
        if count == 0:
            return False
        self._captured.extend(data)
        return True

    def _overrun(self):
        self.overruns += 1
        # audio was lost: a part period from before the gap would splice
        self._captured = bytearray()
        self._start_capture(restart=True)

    def _start_capture(self, restart=False):
        """A read on a prepared PCM starts capture; in non-blocking mode it
        returns at once, usually with nothing yet."""
        pcm = self._capture
        if restart:
            pcm.drop()
        try:
            count, data = pcm.read()
        except self._alsa.ALSAAudioError:
            return
        if count > 0:
            self._captured.extend(data)

    # -- playback ---------------------------------------------------------

    def write_frame(self, pcm):
        """Queue one period for playback; never waits for room."""
        self._check_open()
        frames = self.period_frames
        if len(pcm) != 2 * frames:
            raise ValueError("a period is %d bytes, got %d" % (2 * frames, len(pcm)))
        playback = self._playback
        if playback.state() == self._alsa.PCM_STATE_XRUN:
            self._underrun()
        if self._room() < frames:
            self.dropped += 1
            return
        written = self._write(pcm)
        if written == -errno.EPIPE:
            self._underrun()
            written = self._write(pcm)
        if written < frames:
            # no room after all (or a part period): the rest is lost
            self.dropped += 1

    def _room(self):
        """Frames the ring buffer can take now (all of it when stopped)."""
        alsa = self._alsa
        playback = self._playback
        if playback.state() == alsa.PCM_STATE_SETUP:
            return self.period_frames * self.periods
        try:
            room = playback.avail()
        except alsa.ALSAAudioError:
            return self.period_frames * self.periods
        # a negative answer is an error code: let the write find out what it is
        return room if room >= 0 else self.period_frames * self.periods

    def _write(self, data):
        """Frames written, 0 when full, -EPIPE on an underrun."""
        alsa = self._alsa
        playback = self._playback
        try:
            written = playback.write(data)
        except alsa.ALSAAudioError as e:
            if playback.state() != alsa.PCM_STATE_XRUN:
                raise OSError("audio: playback to %r failed: %s" % (self.playback_name, e)) \
                    from None
            return -errno.EPIPE
        if written < 0 and written != -errno.EPIPE:
            raise OSError("audio: playback to %r failed: %s"
                          % (self.playback_name, errno.errorcode.get(-written, written)))
        return written

    def _underrun(self):
        self.underruns += 1
        # drop leaves the XRUN state; the next write prepares and restarts
        self._playback.drop()
        self._queue_silence()

    def _queue_silence(self):
        for _ in range(self.prefill):
            if self._write(self._silence) <= 0:
                break

    def _check_open(self):
        if not self.is_open:
            raise OSError("audio device is not open")
