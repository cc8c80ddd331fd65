"""The media path: each call's RTP on UDP sockets, paced by the sound card.

Rule: the sound card is the clock. While anything needs audio (a tone, a
connected call) the device is open, and the media path wakes when the card's
next period is due (on CPython a thread that sleeps, on MicroPython an asyncio
task that sleeps), reads every captured period, and per period: converts it to
8 kHz (``Resampler`` when the card runs faster), hands it to each call's
``MediaStream`` (encoded and sent, or counted as not sent while the call is
on hold), takes one frame from each call's jitter buffer, mixes in the tone
being played, and writes the result back to the card. Nothing else paces
audio, and a card that runs slow or fast against the CPU clock is followed
(a period not ready yet is polled for every ``poll_s``; the schedule
re-anchors on the period that came).

With ``media.symmetric_rtp`` set, each stream answers to the address the
peer's packets come from (RFC 4961: the way through a NAT that rewrote the
peer's address); it is off by default, because it also lets whoever sends a
packet of the stream's source from elsewhere redirect the call's audio.

Sockets are polled, not awaited (MicroPython has no datagram endpoints):
one ``select.poll`` holds the RTP and RTCP socket of every call, and each tick
asks it which have datagrams and drains those before the playout frame is
taken, so a packet counts as arrived at the tick that can first play it. A
quiet socket costs nothing: no read that fails with EAGAIN (an exception per
socket per tick), one poll for all of them.

The clock is a thread on CPython (``mediaclock``). Everything the phone calls
takes the Media lock, and so does each tick, so the clock thread and the
phone's loop never run Media code at the same time; what a tick reports (a
DTMF digit, a device failure) is handed to the loop with
``call_soon_threadsafe`` and reaches ``on_event`` there, never on the clock
thread.

Calls follow the call-control events the ``Phone`` hands to ``call_event``:
CONNECTED binds the RTP/RTCP pair (the listen address, ``Call.local_rtp_port``
and the port above) and starts the stream with the negotiated codec, payload
types and remote address; MEDIA, HOLDACK and RESUMEACK apply a re-INVITE (only
``sendrecv`` sends the microphone; ``sendrecv`` and ``recvonly`` play what
comes); DROPCALL, DISCONNECTED, TASKFAIL and RELEASECALL stop it (a last RTCP
report with BYE). ALERTING plays ringback until the call connects or ends.
EARLYMEDIA (the far end answered in a provisional response) starts the
call's stream before the answer, playing what comes and sending nothing (the
microphone is not heard by anyone before the call is answered), and ends
the ringback; CONNECTED then lets it send, on the same stream when the
answer is the early one.
A call's audio starts on a freshly opened device: a device open only for a
tone is closed and reopened at CONNECTED, so no ringback still queued in the
card reaches the earpiece and no microphone audio from before the answer is
sent.

Reported as phone events: ``RTP_START``, ``RTP_UPDATE``, ``RTP_STOP`` (with the
stream's figures), ``RTP_ERROR`` (a socket that cannot be bound: the call goes
on without audio), ``AUDIO_ERROR`` (the device failed) and ``DTMF call=N
digit=5`` for each RFC 4733 digit received.
"""

import asyncio
import select
from array import array

from firmware import compat
from firmware.core import tones
from firmware.core.dtmf import DtmfDigit
from firmware.core.mediastream import CHANNEL_RTP, MediaStream
from firmware.core.resample import Resampler
from firmware.runtime import mediaclock
from firmware.runtime.phone import PhoneEvent
from firmware.runtime.rtpsocket import RtpSocket

VOICE_RATE = 8000
POLL_S = 0.002          # how often a period that is not ready yet is asked for again
MAX_CATCH_UP = 8        # periods read in one tick after the loop was held up
MAX_DATAGRAMS = 64      # datagrams taken from one socket in one tick

WITH_MEDIA = ("CONNECTED", "MEDIA", "HOLDACK", "RESUMEACK")
ENDING = ("DROPCALL", "DISCONNECTED", "TASKFAIL", "RELEASECALL")
SENDING = ("sendrecv",)
PLAYING = ("sendrecv", "recvonly")


class CallAudio:
    """The media of one connected call."""

    __slots__ = ("number", "rtp", "rtcp", "stream", "key", "direction", "remote", "sending",
                 "playing", "early")

    def __init__(self, number, rtp, rtcp):
        self.number = number
        self.rtp = rtp
        self.rtcp = rtcp
        self.stream = None
        self.key = None
        self.direction = "inactive"
        self.remote = None
        self.sending = False
        self.playing = False
        self.early = False  # started by early media: plays, never sends

    def close(self):
        self.rtp.close()
        self.rtcp.close()


def mix(a, b):
    """Two frames of 16-bit PCM added, clipped."""
    out = array("h", a)
    other = array("h", b)
    for i in range(len(out)):
        v = out[i] + other[i]
        if v > 32767:
            v = 32767
        elif v < -32768:
            v = -32768
        out[i] = v
    return bytes(out)


class Media:
    """The phone's audio: one device, the RTP of every connected call, tones.

    ``phone`` gives the clock, the calls (``phone.calls.call(n)``), the listen
    address and ``on_event``; ``device`` is an unopened ``hal.api.AudioDevice``
    run at ``rate`` with ``period_ms`` periods. ``region`` picks the tone plan;
    with ``ringback`` False the application plays every tone itself
    (``play_tone``/``stop_tone``, as the handset's PlayTone/StopTone ask).
    With ``own_task`` False no clock (thread or task) is started: whoever owns
    the loop calls ``on_timer(now)`` at ``next_deadline()`` (a virtual clock in
    tests).
    """

    def __init__(self, phone, device, rate=VOICE_RATE, period_ms=20, region=tones.EUROPE,
                 ringback=True, poll_s=POLL_S, own_task=True):
        if rate <= 0 or period_ms <= 0 or (rate * period_ms) % 1000 \
                or (VOICE_RATE * period_ms) % 1000:
            raise ValueError("%d ms is not a whole number of samples at %d Hz"
                             % (period_ms, rate))
        self.phone = phone
        self.clock = phone.clock
        self.device = device
        self.rate = rate
        self.period_ms = period_ms
        self.period_s = period_ms / 1000.0
        self.card_frames = rate * period_ms // 1000
        self.voice_frames = VOICE_RATE * period_ms // 1000
        self.region = region
        self.ringback = ringback
        self.symmetric = phone.config.media.symmetric_rtp
        self.poll_s = poll_s
        self.own_task = own_task
        self.calls = []           # CallAudio, in the order the calls connected
        self.tone = None          # the ToneGenerator being played, or None
        self.ticks = 0            # periods processed since start
        self._ringback_call = None  # the call whose ALERTING started the tone
        self._to_card = None
        self._from_card = None
        if rate != VOICE_RATE:
            self._to_card = Resampler(VOICE_RATE, rate, period_ms)
            self._from_card = Resampler(rate, VOICE_RATE, period_ms)
        self._silence = bytes(2 * self.voice_frames)
        self._open = False
        self._task = None         # the thread or task that runs the clock
        self.loop = None
        self.lock = mediaclock.new_lock()
        self.clock_thread_id = None  # the clock thread's ident: its events go through the loop
        self._poller = select.poll()  # every call's RTP and RTCP socket
        self._readers = {}        # poll key -> (CallAudio, RtpSocket, is RTCP)
        self.due = 0.0
        self._polling = False

    # -- what the phone and the application call -------------------------------------------

    def call_event(self, event, now):
        """Follow one call-control event (the Phone hands over every one)."""
        with self.lock:
            name = event.name
            number = event.call
            if number is None:
                return
            if name == "ALERTING":
                if self.ringback and self.tone is None and self._find(number) is None:
                    self.tone = tones.ToneGenerator(tones.tone(self.region, tones.RINGBACK))
                    self._ringback_call = number
                    self._need_device(now)
            elif name in WITH_MEDIA:
                self._end_ringback(number)
                audio = self._find(number)
                if audio is None and name == "CONNECTED":
                    self._start_call(number, now)
                elif audio is not None:
                    if name == "CONNECTED":
                        audio.early = False
                    self._apply(audio, now)
            elif name == "EARLYMEDIA":
                self._end_ringback(number)
                audio = self._find(number)
                if audio is None:
                    self._start_call(number, now, early=True)
                elif audio.early:
                    self._apply(audio, now)
            elif name in ENDING:
                self._end_ringback(number)
                self._stop_call(number, now)
                self._release_device()

    def play_tone(self, tone, now=None):
        """Play a ``tones.Tone`` (or a tone name of the region) until stop_tone()."""
        with self.lock:
            if isinstance(tone, str):
                tone = tones.tone(self.region, tone)
            self.tone = tones.ToneGenerator(tone)
            self._ringback_call = None
            self._need_device(self.clock() if now is None else now)

    def stop_tone(self, now=None):
        with self.lock:
            self.tone = None
            self._ringback_call = None
            self._release_device()

    def send_dtmf(self, number, digits, duration_ms=100):
        """Send ``digits`` on call ``number`` as RFC 4733 events, one after the
        other; False when the call has no stream sending or no telephone-event."""
        with self.lock:
            audio = self._find(number)
            if audio is None or audio.stream is None or not audio.sending \
                    or audio.stream.dtmf_payload_type is None:
                return False
            audio.stream.send_dtmf(digits, duration_ms)
            return True

    def stats(self, number):
        """The stream figures of call ``number`` (MediaStream.stats()), or None."""
        with self.lock:
            audio = self._find(number)
            if audio is None or audio.stream is None:
                return None
            out = audio.stream.stats()
            out["underruns"] = self.device.underruns
            out["overruns"] = self.device.overruns
            out["ticks"] = self.ticks
            return out

    def next_deadline(self):
        """When the card's next period is due (None while the device is closed)."""
        return self.due if self._open else None

    def on_timer(self, now):
        """Do what is due at ``now``: read, send, receive, play."""
        with self.lock:
            if self._open and now >= self.due:
                self._tick(now)

    def close(self):
        """Stop every call's media and close the device (the phone is stopping)."""
        with self.lock:
            now = self.clock()
            for audio in list(self.calls):
                self._stop_call(audio.number, now)
            self.tone = None
            self._ringback_call = None
            self._close_device()

    # -- calls -------------------------------------------------------------------------------

    def _find(self, number):
        for audio in self.calls:
            if audio.number == number:
                return audio
        return None

    def _start_call(self, number, now, early=False):
        call = self.phone.calls.call(number)
        if call is None or call.local_rtp_port is None:
            return
        address = self.phone.config.listen.address
        port = call.local_rtp_port
        rtp = None
        try:
            rtp = RtpSocket(address, port)
            rtcp = RtpSocket(address, port + 1)
        except OSError as error:
            if rtp is not None:
                rtp.close()
            self._event("RTP_ERROR", "call=%d port=%d cause=%s"
                        % (number, port, _quote("cannot bind: %s" % error)), number)
            return
        audio = CallAudio(number, rtp, rtcp)
        audio.early = early
        first = not self.calls
        self.calls.append(audio)
        for sock, is_rtcp in ((rtp, False), (rtcp, True)):
            self._poller.register(sock.sock, select.POLLIN)
            self._readers[sock.poll_key] = (audio, sock, is_rtcp)
        self._apply(audio, now, False)
        self._event("RTP_START", "call=%d local=%d %s" % (number, port, _describe(audio)),
                    number)
        # a device open only for a tone is reopened: the call starts clean
        self._need_device(now, fresh=first)

    def _apply(self, audio, now, report=True):
        """Take the call's (re)negotiated media: codec, remote address, direction."""
        call = self.phone.calls.call(audio.number)
        negotiated = call.media if call is not None else None
        if negotiated is None or negotiated.codec is None or not negotiated.remote_port:
            direction = "inactive"
            remote = None
        else:
            direction = negotiated.direction
            remote = (negotiated.remote_address, negotiated.remote_port)
            if _unspecified(negotiated.remote_address):
                remote = None
                direction = "inactive"
            key = (negotiated.codec, negotiated.payload_type, negotiated.dtmf_payload_type,
                   negotiated.ptime)
            if audio.stream is None or key != audio.key:
                if audio.stream is not None:
                    audio.stream.close(now)
                    self._flush(audio)
                audio.stream = MediaStream(
                    negotiated.codec, negotiated.payload_type, remote, compat.urandom,
                    ptime=negotiated.ptime or self.period_ms,
                    dtmf_payload_type=negotiated.dtmf_payload_type, frame_ms=self.period_ms,
                    symmetric=self.symmetric)
                audio.key = key
            elif remote != audio.remote:
                audio.stream.set_remote(remote)
        sending = remote is not None and direction in SENDING and not audio.early
        changed = direction != audio.direction or remote != audio.remote \
            or sending != audio.sending
        audio.direction = direction
        audio.remote = remote
        audio.sending = sending
        audio.playing = direction in PLAYING
        if report and changed:
            self._event("RTP_UPDATE", "call=%d %s" % (audio.number, _describe(audio)),
                        audio.number)

    def _stop_call(self, number, now):
        audio = self._find(number)
        if audio is None:
            return
        self.calls.remove(audio)
        details = "call=%d" % number
        stream = audio.stream
        if stream is not None:
            stats = stream.stats()
            buffer = stats["buffer"]
            details += " sent=%d received=%d lost=%d late=%d concealed=%d jitter_ms=%.1f" % (
                stats["packets_sent"], stats["packets_received"], stats["packets_lost"],
                buffer["late"], buffer["concealed"], stats["jitter_ms"])
            stream.close(now)
            self._flush(audio)
        for sock in (audio.rtp, audio.rtcp):
            self._readers.pop(sock.poll_key, None)
            self._poller.unregister(sock.sock)
        audio.close()
        self._event("RTP_STOP", details, number)

    def _end_ringback(self, number):
        if self._ringback_call == number:
            self.tone = None
            self._ringback_call = None
            self._release_device()

    # -- the device and its clock ---------------------------------------------------------

    def _need_device(self, now, fresh=False):
        if self._open and fresh:
            self._close_device()
        if self._open:
            return
        try:
            self.device.open(self.rate, self.card_frames)
        except (OSError, ValueError) as error:
            self._event("AUDIO_ERROR", "cause=%s" % _quote("cannot open: %s" % error))
            return
        for converter in (self._to_card, self._from_card):
            if converter is not None:
                converter.reset()
        self._open = True
        self._polling = False
        self.due = now + self.period_s
        if self.own_task:
            self._start_clock()

    def _release_device(self):
        """Close the device once nothing needs it."""
        if self._open and not self.calls and self.tone is None:
            self._close_device()

    def _close_device(self):
        task = self._task
        self._task = None
        was_open = self._open
        self._open = False
        if task is not None:
            task.cancel()
        if was_open:
            try:
                self.device.close()
            except OSError as error:
                self._event("AUDIO_ERROR", "cause=%s" % _quote("close: %s" % error))

    def _start_clock(self):
        self.loop = asyncio.get_event_loop()
        clock = mediaclock.start_thread(self)
        self._task = clock if clock is not None else asyncio.create_task(self._run())

    async def _run(self):
        try:
            while self._open:
                delay = self.due - self.clock()
                if delay > 0:
                    await asyncio.sleep(delay)
                else:
                    await asyncio.sleep(0)  # catching up: still let the phone's loop run
                if self._open and not self.guarded_tick(self.clock()):
                    return
        except asyncio.CancelledError:
            return

    def guarded_tick(self, now):
        """One tick; a failure is reported and closes the device (the phone
        goes on without audio). False when the clock should stop."""
        try:
            self._tick(now)
            return self._open
        except Exception as error:  # noqa: BLE001 - any failure of the card or a stream
            self._open = False
            self._task = None
            self._event("AUDIO_ERROR", "cause=%s" % _quote(str(error)))
            try:
                self.device.close()
            except OSError:
                pass
            return False

    def _tick(self, now):
        """Everything one wake-up of the media task does."""
        if self._readers:
            self._receive(now)
        device = self.device
        count = 0
        pcm = device.read_frame()
        while pcm is not None:
            count += 1
            self._period(pcm, now)
            if count == MAX_CATCH_UP:
                break
            pcm = device.read_frame()
        for audio in self.calls:
            if audio.stream is not None:
                self._service(audio.stream, audio, now)
        self.ticks += count
        # Pacing: the next period is due one period after this one; a card
        # that is late against our clock is polled for, and followed.
        if count == 0:
            self._polling = True
            self.due = now + self.poll_s
        elif self._polling:
            self._polling = False
            self.due = now + self.period_s - self.poll_s
        else:
            self.due += count * self.period_s
            if self.due <= now:
                self.due = now + self.poll_s

    def _period(self, card_pcm, now):
        """One captured period in, one period out to the card."""
        voice = card_pcm if self._from_card is None else self._from_card.process(card_pcm)
        out = None
        for audio in self.calls:
            stream = audio.stream
            if stream is None:
                continue
            stream.send_audio(voice if audio.sending else None, now)
            frame = stream.get_frame(now)
            if audio.playing:
                out = frame if out is None else mix(out, frame)
        if self.tone is not None:
            sound = self.tone.read(self.voice_frames)
            out = sound if out is None else mix(out, sound)
        if out is None:
            out = self._silence
        self.device.write_frame(out if self._to_card is None else self._to_card.process(out))

    def _receive(self, now):
        """Drain every socket the poll reports readable: a datagram from each,
        then ask again, until none is (or MAX_DATAGRAMS rounds)."""
        poll = self._poller.poll
        readers = self._readers
        rounds = 0
        ready = poll(0)
        while ready:
            for item in ready:
                reader = readers.get(item[0])
                if reader is None:
                    continue
                audio, sock, is_rtcp = reader
                if self.symmetric:
                    data, source = sock.receive_from()
                else:
                    data, source = sock.receive_one(), None
                stream = audio.stream
                if data is None or stream is None:
                    continue
                if is_rtcp:
                    stream.receive_rtcp(data, source, now)
                else:
                    stream.receive(data, source, now)
            rounds += 1
            if rounds >= MAX_DATAGRAMS:
                break
            ready = poll(0)

    def _service(self, stream, audio, now):
        deadline = stream.next_deadline()
        if deadline is not None and now >= deadline:
            stream.on_timer(now)
        event = stream.next_event()
        while event is not None:
            # an RTCP BYE needs nothing from us: the SIP BYE ends the call
            if isinstance(event, DtmfDigit):
                self._event("DTMF", "call=%d digit=%s" % (audio.number, event.digit),
                            audio.number)
            event = stream.next_event()
        for channel, data, address in stream.datagrams_to_send():
            if address is not None:
                (audio.rtp if channel == CHANNEL_RTP else audio.rtcp).send(data, address)

    def _flush(self, audio):
        for channel, data, address in audio.stream.datagrams_to_send():
            if address is None:
                continue
            (audio.rtp if channel == CHANNEL_RTP else audio.rtcp).send(data, address)

    def _event(self, name, details, call=None):
        event = PhoneEvent(self.clock(), name, details, call)
        if not mediaclock.on_clock_thread(self):
            self.phone.on_event(event)
            return
        try:
            self.loop.call_soon_threadsafe(self.phone.on_event, event)
        except RuntimeError:
            pass  # the loop has closed: nobody is listening any more


def attach(phone, board, device, **options):
    """Give ``phone`` the media path of ``board``'s ``audio`` section on ``device``
    (``Hardware.audio_device()``); the Phone then hands it every call event."""
    audio = board.data["audio"]
    media = Media(phone, device, audio["rate"], audio.get("period_ms", 20), **options)
    phone.media = media
    return media


def _unspecified(address):
    return address in (None, "", "0.0.0.0", "::", "0:0:0:0:0:0:0:0")


def _describe(audio):
    stream = audio.stream
    remote = "none" if audio.remote is None else "%s:%d" % audio.remote
    if stream is None:
        return "direction=%s remote=%s" % (audio.direction, remote)
    dtmf = "none" if stream.dtmf_payload_type is None else str(stream.dtmf_payload_type)
    text = "codec=%s pt=%d dtmf=%s ptime=%d direction=%s remote=%s" % (
        stream.codec.name, stream.payload_type, dtmf, stream.ptime_samples * 1000 // stream.clock_rate,
        audio.direction, remote)
    return text + " early=yes" if audio.early else text


def _quote(text):
    text = str(text).replace('"', "'")
    return '"%s"' % text if " " in text else text
