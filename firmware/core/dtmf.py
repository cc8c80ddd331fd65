"""DTMF digits as RFC 4733 telephone-events: sending and receiving.

Rule: a digit on the wire is a run of event packets sharing one RTP
timestamp (the event's start); the first carries the marker bit, each
update carries the duration so far, and the end is sent three times with
the E bit and the final duration. ``DtmfSender`` produces one packet per
packet tick of the media stream (an update per packet, RFC 4733 2.5.1.2),
so its pacing is the caller's. ``DtmfReceiver`` recognises an event by its
timestamp, reports each digit exactly once with its duration (at its end
packet, when a newer event starts, or when updates stop for ``timeout``
seconds) and ignores repeats and stragglers of events it already reported.
Digits are the characters 0-9 * # A-D.
"""

import struct

DIGITS = "0123456789*#ABCD"

DEFAULT_VOLUME = 10  # -dBm0, RFC 4733 2.3.4
MAX_DURATION = 0xFFFF  # the duration field is 16 bits of timestamp units
END_REPEATS = 3


def event_code(digit):
    """The RFC 4733 event code (0-15) for a digit character; ValueError if none."""
    index = DIGITS.find(str(digit).upper())
    if index < 0 or len(str(digit)) != 1:
        raise ValueError("not a DTMF digit: %r" % (digit,))
    return index


def encode_event(code, end, volume, duration):
    """The 4-byte telephone-event payload."""
    return struct.pack("!BBH", code, (0x80 if end else 0) | (volume & 0x3F),
                       min(duration, MAX_DURATION))


def decode_event(payload):
    """(code, end, volume, duration) from a telephone-event payload; ValueError if short."""
    if len(payload) < 4:
        raise ValueError("telephone-event payload of %d bytes" % len(payload))
    code, flags, duration = struct.unpack_from("!BBH", payload, 0)
    return code, bool(flags & 0x80), flags & 0x3F, duration


class DtmfPacket:
    """One telephone-event packet to send: payload, marker and its RTP timestamp."""

    __slots__ = ("payload", "marker", "timestamp")

    def __init__(self, payload, marker, timestamp):
        self.payload = payload
        self.marker = marker
        self.timestamp = timestamp


class DtmfSender:
    """Turns digits into telephone-event packets, one per packet tick.

    ``start(digit, timestamp)`` begins an event at the stream's current RTP
    timestamp and ``stop()`` ends it (a key release); ``send(digits)``
    queues whole digits of ``duration_ms`` with ``gap_ms`` of audio between
    them. ``tick(timestamp)`` is called once per outgoing packet slot with
    the timestamp that slot would have had; it returns a DtmfPacket to send
    instead of audio, or None when audio should be sent. Events shorter
    than ``min_duration_ms`` are stretched to it; an event that reaches the
    16-bit duration limit (8 s at 8 kHz) is ended there.
    """

    __slots__ = ("clock_rate", "samples_per_packet", "volume", "min_duration", "busy",
                 "_queue", "_code", "_start", "_duration", "_target", "_stopping",
                 "_ends_left", "_gap_left", "_gap")

    def __init__(self, samples_per_packet=160, clock_rate=8000, volume=DEFAULT_VOLUME,
                 min_duration_ms=40, gap_ms=60):
        self.clock_rate = clock_rate
        self.samples_per_packet = samples_per_packet
        self.volume = volume
        self.min_duration = min_duration_ms * clock_rate // 1000
        self._gap = gap_ms * clock_rate // 1000
        self._queue = []
        self._code = None
        self._start = 0
        self._duration = 0
        self._target = None
        self._stopping = False
        self._ends_left = 0
        self._gap_left = 0
        # False only when tick() has nothing to do (no digit, none queued, no
        # gap running): then the caller may skip it, once per packet.
        self.busy = False

    @property
    def active(self):
        """True while an event is being sent (including its end packets) or queued."""
        return self._code is not None or bool(self._queue)

    def start(self, digit, duration_ms=None):
        """Begin a digit at the next tick; it lasts ``duration_ms`` or until ``stop()``."""
        code = event_code(digit)
        target = None if duration_ms is None else duration_ms * self.clock_rate // 1000
        self._queue.append((code, target))
        self.busy = True

    def send(self, digits, duration_ms=100):
        """Queue digits to be sent one after the other."""
        for digit in digits:
            self.start(digit, duration_ms)

    def stop(self):
        """End the digit in progress (key released); queued ones still follow."""
        if self._code is not None:
            self._stopping = True
        elif self._queue and self._queue[-1][1] is None:
            code = self._queue[-1][0]
            self._queue[-1] = (code, self.min_duration)

    def cancel(self):
        """Forget queued digits; the one in progress still ends properly."""
        self._queue = []
        self.stop()

    def tick(self, timestamp):
        if self._code is None:
            if self._gap_left > 0:
                self._gap_left -= self.samples_per_packet
                return None
            if not self._queue:
                self.busy = False
                return None
            self._code, self._target = self._queue.pop(0)
            self._start = timestamp
            self._duration = self.samples_per_packet
            self._stopping = False
            self._ends_left = 0
            return self._packet(False, True)
        if self._ends_left:
            self._ends_left -= 1
            packet = self._packet(True, False)
            if self._ends_left == 0:
                self._code = None
                self._gap_left = self._gap
            return packet
        if self._stopping and self._duration >= self.min_duration:
            return self._end()
        duration = self._duration + self.samples_per_packet
        if duration > MAX_DURATION:
            return self._end()
        self._duration = duration
        if self._target is not None and duration >= self._target:
            return self._end()
        return self._packet(False, False)

    def _end(self):
        # This packet is the first of the three that carry the E bit.
        self._ends_left = END_REPEATS - 1
        return self._packet(True, False)

    def _packet(self, end, marker):
        return DtmfPacket(encode_event(self._code, end, self.volume, self._duration), marker,
                          self._start)


class DtmfDigit:
    """A received digit, reported once: ``duration`` in timestamp units."""

    __slots__ = ("digit", "duration", "duration_ms", "volume", "timestamp", "ended")

    def __init__(self, digit, duration, clock_rate, volume, timestamp, ended):
        self.digit = digit
        self.duration = duration
        self.duration_ms = duration * 1000 // clock_rate
        self.volume = volume
        self.timestamp = timestamp
        self.ended = ended  # False when reported because its end packets never came

    def __repr__(self):
        return "DtmfDigit(%r, %d ms)" % (self.digit, self.duration_ms)


class DtmfReceiver:
    """Recognises RFC 4733 DTMF events in telephone-event payloads.

    ``receive(payload, timestamp, now)`` returns a list of DtmfDigit (usually
    empty, one when a digit ends). ``next_deadline()``/``on_timer(now)``
    finish a digit whose end packets were all lost. ``current`` is the digit
    being received, for a display that shows it while the key is held.
    """

    __slots__ = ("clock_rate", "timeout", "current", "_timestamp", "_duration", "_volume",
                 "_last_update", "_done")

    def __init__(self, clock_rate=8000, timeout=0.3):
        self.clock_rate = clock_rate
        self.timeout = timeout
        self.current = None
        self._timestamp = 0
        self._duration = 0
        self._volume = 0
        self._last_update = 0.0
        self._done = []  # timestamps of recently reported events, newest last

    def receive(self, payload, timestamp, now):
        try:
            code, end, volume, duration = decode_event(payload)
        except ValueError:
            return []
        if code >= len(DIGITS):
            return []  # flash-hook and other non-DTMF events are not digits
        if timestamp in self._done:
            return []  # a repeated end packet or a late update of a reported digit
        out = []
        if self.current is not None and timestamp != self._timestamp:
            if ((timestamp - self._timestamp) & 0xFFFFFFFF) >= 0x80000000:
                return []  # an older event reordered behind the current one
            out.append(self._finish(False))
        if self.current is None:
            self.current = DIGITS[code]
            self._timestamp = timestamp
            self._duration = 0
        if duration > self._duration:
            self._duration = duration
        self._volume = volume
        self._last_update = now
        if end:
            out.append(self._finish(True))
        return out

    def _finish(self, ended):
        digit = DtmfDigit(self.current, self._duration, self.clock_rate, self._volume,
                          self._timestamp, ended)
        self._done.append(self._timestamp)
        if len(self._done) > 8:
            self._done.pop(0)
        self.current = None
        return digit

    def next_deadline(self):
        if self.current is None:
            return None
        return self._last_update + self.timeout

    def on_timer(self, now):
        if self.current is not None and now >= self._last_update + self.timeout:
            return [self._finish(False)]
        return []

    def reset(self):
        """Forget everything (a new remote source)."""
        self.current = None
        self._done = []
