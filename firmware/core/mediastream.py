"""One call's audio over RTP, sans-IO: frames in, datagrams out, and back.

Rule: the runtime drives a MediaStream with its own clock and sockets and
the stream never touches either. Every playout tick (one ``frame_ms`` frame
of 8 kHz audio, 20 ms) the runtime calls ``send_audio(pcm, now)`` with the
captured frame (or None while muted or on hold) and ``get_frame(now)`` for
the frame to play. Datagrams that arrive go to ``receive(data, addr, now)``
(RTP socket) or ``receive_rtcp`` (RTCP socket); datagrams to send are taken
with ``datagrams_to_send()`` as (channel, bytes, address) where channel
tells the RTP socket from the RTCP one. ``next_deadline()``/``on_timer(now)``
schedule RTCP reports (every ``rtcp_interval`` seconds times a random factor
in 0.5..1.5, RFC 3550 6.2) and finish DTMF digits whose end never arrived.
Events (received digits, the far end's RTCP BYE) come from ``next_event()``.

Outgoing packets: a random SSRC, sequence number and timestamp origin (from
the ``urandom(n)`` function passed in), the timestamp advancing by the
samples captured whether sent or not, ``ptime`` of audio per packet, the
marker bit on the first packet of each talkspurt. DTMF (RFC 4733) replaces
audio packets while a digit is sent. Incoming packets are validated per
source (RFC 3550 A.1), sorted by payload type into audio (jitter buffer),
telephone-event (DTMF receiver) and comfort noise; other payload types are
counted and dropped. With ``symmetric`` the stream answers to the address
the peer's packets come from (symmetric RTP, RFC 4961), which is how a
phone behind NAT gets its audio back. An ordinary packet (a plain 12-byte
header) is read with one unpack and handed on as fields, never as a packet
object: ``receive`` runs fifty times a second for as long as a call lasts.
"""

import struct

from firmware.core import g711
from firmware.core.dtmf import DtmfReceiver, DtmfSender
from firmware.core.jitter import JitterBuffer
from firmware.core.rtcp import (MIN_SEQUENTIAL, Bye, ReceiverReport, ReceptionStats,
                                SenderReport, decode_rtcp, encode_bye, encode_receiver_report,
                                encode_sdes, encode_sender_report, ntp_middle, ntp_timestamp)
from firmware.core.rtp import PLAIN_FIRST_OCTET, RTP_HEADER_SIZE, RtpError, decode_rtp

CHANNEL_RTP = 0
CHANNEL_RTCP = 1
CN_PAYLOAD_TYPE = 13  # RFC 3389 comfort noise: no audio for the jitter buffer

_AUDIO = 0
_DTMF = 1
_NOISE = 2

_pack = struct.pack
_unpack_from = struct.unpack_from


class ByeReceived:
    """The far end's RTCP BYE for the source we were receiving."""

    __slots__ = ("ssrc", "reason")

    def __init__(self, ssrc, reason):
        self.ssrc = ssrc
        self.reason = reason

    def __repr__(self):
        return "ByeReceived(%08x %r)" % (self.ssrc, self.reason)


def _random_int(urandom, nbytes):
    return int.from_bytes(urandom(nbytes), "big")


def _default_rtcp_address(address):
    # RFC 3550 11: RTCP on the next port up, when the address is (host, port).
    if isinstance(address, tuple) and len(address) >= 2 and isinstance(address[1], int):
        return (address[0], address[1] + 1) + tuple(address[2:])
    return None


class MediaStream:
    """An RTP session for one G.711 audio stream; see the module rule.

    ``codec`` is an SDP encoding name (PCMU, PCMA) or a g711.Codec;
    ``payload_type``/``dtmf_payload_type`` are what we send with, the
    ``receive_*`` variants what the peer sends with (default: the same).
    ``remote_rtcp`` defaults to the RTP port plus one, or to the RTP address
    with ``rtcp_mux``. ``ntp_offset`` is added to ``now`` to give the
    wallclock (seconds since 1900) written into sender reports; with the
    default 0 an elapsed-time clock is used, which RFC 3550 allows.
    """

    __slots__ = ("codec", "payload_type", "dtmf_payload_type", "receive_payload_type",
                 "receive_dtmf_payload_type", "remote_rtp", "remote_rtcp", "rtcp_mux",
                 "symmetric", "clock_rate", "frame_samples", "ptime_samples", "rtcp_interval",
                 "ntp_offset", "cname", "ssrc", "jitter", "reception", "packets_sent",
                 "octets_sent", "reports_sent", "malformed", "unknown_payload", "rtt",
                 "remote_report", "closed", "_urandom", "_seq", "_ts", "_ts_time", "_marker",
                 "_pending", "_pending_ts", "_dtmf_tx", "_dtmf_rx", "_candidate", "_probation",
                 "_out", "_events", "_next_rtcp", "_sent_at_report", "_was_sender")

    def __init__(self, codec, payload_type, remote_rtp, urandom, ptime=20,
                 dtmf_payload_type=None, receive_payload_type=None,
                 receive_dtmf_payload_type=None, remote_rtcp=None, rtcp_mux=False,
                 symmetric=False, clock_rate=8000, frame_ms=20, rtcp_interval=5.0,
                 ntp_offset=0.0, cname=None, jitter_min=0.02, jitter_max=0.2,
                 jitter_initial=0.06, probation=MIN_SEQUENTIAL):
        self.codec = g711.codec_by_name(codec) if isinstance(codec, str) else codec
        self.payload_type = payload_type
        self.dtmf_payload_type = dtmf_payload_type
        self.receive_payload_type = payload_type if receive_payload_type is None \
            else receive_payload_type
        self.receive_dtmf_payload_type = dtmf_payload_type if receive_dtmf_payload_type is None \
            else receive_dtmf_payload_type
        self.remote_rtp = remote_rtp
        self.rtcp_mux = rtcp_mux
        if remote_rtcp is None:
            remote_rtcp = remote_rtp if rtcp_mux else _default_rtcp_address(remote_rtp)
        self.remote_rtcp = remote_rtcp
        self.symmetric = symmetric
        self.clock_rate = clock_rate
        self.frame_samples = frame_ms * clock_rate // 1000
        self.ptime_samples = (ptime or frame_ms) * clock_rate // 1000
        self.rtcp_interval = rtcp_interval
        self.ntp_offset = ntp_offset
        self._urandom = urandom
        self.ssrc = _random_int(urandom, 4)
        self._seq = _random_int(urandom, 2)
        self._ts = _random_int(urandom, 4)
        self.cname = cname if cname is not None else "%08x@rtp" % _random_int(urandom, 4)
        self._ts_time = None
        self._marker = True
        self._pending = b""
        self._pending_ts = 0
        self._dtmf_tx = DtmfSender(self.frame_samples, clock_rate)
        self._dtmf_rx = DtmfReceiver(clock_rate)
        self.jitter = JitterBuffer(self.codec.decode, self.frame_samples, clock_rate,
                                   jitter_min, jitter_max, jitter_initial)
        self.reception = None  # ReceptionStats of the source being played
        self._candidate = None  # a new source still on probation
        self._probation = probation
        self.packets_sent = 0
        self.octets_sent = 0
        self.reports_sent = 0
        self.malformed = 0
        self.unknown_payload = 0
        self.rtt = None  # seconds, from the peer's last report about us
        self.remote_report = None  # that ReportBlock
        self.closed = False
        self._out = []
        self._events = []
        self._next_rtcp = None
        self._sent_at_report = 0
        self._was_sender = False

    # --- timing --------------------------------------------------------------

    def _begin(self, now):
        if self._next_rtcp is None and not self.closed:
            # RFC 3550 6.2: the first report comes after half an interval.
            self._next_rtcp = now + self._interval() / 2

    def _interval(self):
        factor = _random_int(self._urandom, 2) / 65536.0 + 0.5
        return self.rtcp_interval * factor

    def next_deadline(self):
        """When on_timer wants to be called next, or None."""
        deadline = None if self.closed else self._next_rtcp
        if self._dtmf_rx.current is not None:  # a digit being received
            dtmf = self._dtmf_rx.next_deadline()
            if deadline is None or dtmf < deadline:
                deadline = dtmf
        return deadline

    def on_timer(self, now):
        self._events.extend(self._dtmf_rx.on_timer(now))
        if self._next_rtcp is not None and now >= self._next_rtcp and not self.closed:
            self._queue_report(now)
            self._next_rtcp = now + self._interval()

    # --- sending -------------------------------------------------------------

    def send_audio(self, pcm, now):
        """One captured frame (LE int16 bytes), or None for a frame not sent."""
        if self._next_rtcp is None:
            self._begin(now)
        samples = self.frame_samples if pcm is None else len(pcm) // 2
        dtmf = self._dtmf_tx.tick(self._ts) if self._dtmf_tx.busy else None
        if dtmf is not None:
            self._pending = b""  # the digit replaces the audio (RFC 4733 2.6)
            self._emit(self.dtmf_payload_type, dtmf.timestamp, dtmf.payload, dtmf.marker)
        elif pcm is None:
            self._pending = b""
            self._marker = True  # whatever comes next starts a talkspurt
        else:
            codes = self.codec.encode(pcm)
            if not self._pending and len(codes) == self.ptime_samples:
                self._emit(self.payload_type, self._ts, codes, self._marker)
                self._marker = False
            else:
                if not self._pending:
                    self._pending_ts = self._ts
                self._pending += codes
                size = self.ptime_samples
                while len(self._pending) >= size:
                    self._emit(self.payload_type, self._pending_ts, self._pending[:size],
                               self._marker)
                    self._marker = False
                    self._pending = self._pending[size:]
                    self._pending_ts = (self._pending_ts + size) & 0xFFFFFFFF
        self._ts = (self._ts + samples) & 0xFFFFFFFF
        self._ts_time = now

    def _emit(self, payload_type, timestamp, payload, marker):
        # encode_rtp's packet, packed here: one struct call per packet
        second = (payload_type & 0x7F) | 0x80 if marker else payload_type & 0x7F
        data = _pack("!BBHII", PLAIN_FIRST_OCTET, second, self._seq, timestamp,
                     self.ssrc) + payload
        self._seq = (self._seq + 1) & 0xFFFF
        self.packets_sent += 1
        self.octets_sent += len(payload)
        if self.remote_rtp is not None:
            self._out.append((CHANNEL_RTP, data, self.remote_rtp))

    def start_dtmf(self, digit):
        """Key pressed: send ``digit`` from the next frame until stop_dtmf()."""
        self._need_dtmf()
        self._dtmf_tx.start(digit)

    def stop_dtmf(self):
        """Key released: end the digit (at least the minimum duration is sent)."""
        self._dtmf_tx.stop()

    def send_dtmf(self, digits, duration_ms=100):
        """Queue digits of ``duration_ms`` each, sent one after the other."""
        self._need_dtmf()
        self._dtmf_tx.send(digits, duration_ms)

    @property
    def sending_dtmf(self):
        return self._dtmf_tx.active

    def _need_dtmf(self):
        if self.dtmf_payload_type is None:
            raise ValueError("telephone-event was not negotiated")

    def set_remote(self, remote_rtp, remote_rtcp=None):
        """The peer's addresses changed (a re-INVITE)."""
        self.remote_rtp = remote_rtp
        if remote_rtcp is None:
            remote_rtcp = remote_rtp if self.rtcp_mux else _default_rtcp_address(remote_rtp)
        self.remote_rtcp = remote_rtcp

    # --- receiving -----------------------------------------------------------

    def receive(self, data, addr, now):
        """A datagram from the RTP socket (RTCP too, when multiplexed)."""
        if self._next_rtcp is None:
            self._begin(now)
        if len(data) >= RTP_HEADER_SIZE and data[0] == PLAIN_FIRST_OCTET:
            # The usual packet (no padding, extension or CSRCs): its header
            # in one unpack, no packet object. RTCP is told apart by the
            # second octet (RFC 5761), also when it starts the same way.
            second = data[1]
            if 192 <= second <= 223:
                self.receive_rtcp(data, addr, now)
                return
            pt = second & 0x7F
            sequence, timestamp, ssrc = _unpack_from("!HII", data, 2)
            payload = data[RTP_HEADER_SIZE:]
        else:
            if len(data) > 1 and 192 <= data[1] <= 223:
                self.receive_rtcp(data, addr, now)
                return
            try:
                packet = decode_rtp(data)
            except RtpError:
                self.malformed += 1
                return
            pt = packet.payload_type
            sequence = packet.sequence
            timestamp = packet.timestamp
            ssrc = packet.ssrc
            payload = packet.payload
        if pt == self.receive_payload_type:
            kind = _AUDIO
        elif pt == self.receive_dtmf_payload_type:
            kind = _DTMF
        elif pt == CN_PAYLOAD_TYPE:
            kind = _NOISE
        else:
            self.unknown_payload += 1
            return
        source = self.reception
        if source is not None and ssrc == source.ssrc:
            if not source.update(sequence, timestamp, now, kind == _AUDIO):
                return
        else:
            # A new source must pass probation before it replaces the old one.
            candidate = self._candidate
            if candidate is None or candidate.ssrc != ssrc:
                candidate = ReceptionStats(ssrc, self.clock_rate, self._probation)
                self._candidate = candidate
            if not candidate.update(sequence, timestamp, now, kind == _AUDIO):
                return
            self.reception = candidate
            self._candidate = None
            self._dtmf_rx.reset()
        if self.symmetric and addr is not None and addr != self.remote_rtp:
            self.remote_rtp = addr
            if self.rtcp_mux:
                self.remote_rtcp = addr
        if kind == _AUDIO:
            self.jitter.put_fields(sequence, timestamp, ssrc, payload, now)
        elif kind == _DTMF:
            self.jitter.skip_fields(sequence, timestamp, ssrc, now)
            self._events.extend(self._dtmf_rx.receive(payload, timestamp, now))
        else:
            self.jitter.skip_fields(sequence, timestamp, ssrc, now)

    def receive_rtcp(self, data, addr, now):
        """A datagram from the RTCP socket."""
        self._begin(now)
        try:
            packets = decode_rtcp(data)
        except RtpError:
            self.malformed += 1
            return
        if self.symmetric and addr is not None:
            self.remote_rtcp = addr
        source = self.reception
        for packet in packets:
            if isinstance(packet, (SenderReport, ReceiverReport)):
                if isinstance(packet, SenderReport) and source is not None \
                        and packet.ssrc == source.ssrc:
                    source.on_sender_report(packet.ntp_timestamp, now)
                for block in packet.reports:
                    if block.ssrc == self.ssrc:
                        self._on_report_about_us(block, now)
            elif isinstance(packet, Bye):
                if source is not None and source.ssrc in packet.ssrcs:
                    self._events.append(ByeReceived(source.ssrc, packet.reason))

    def _on_report_about_us(self, block, now):
        self.remote_report = block
        if block.lsr:
            arrival = ntp_middle(ntp_timestamp(now + self.ntp_offset))
            rtt = (arrival - block.lsr - block.dlsr) & 0xFFFFFFFF
            if rtt < 0x80000000:
                self.rtt = rtt / 65536.0

    def get_frame(self, now):
        """The frame to play at this tick (LE int16 bytes, always full length)."""
        return self.jitter.get(now)

    def next_event(self):
        """The next DtmfDigit or ByeReceived, or None."""
        if self._events:
            return self._events.pop(0)
        return None

    def datagrams_to_send(self):
        """Take the queued datagrams: a list of (channel, data, address)."""
        out = self._out
        self._out = []
        return out

    # --- RTCP ----------------------------------------------------------------

    def _report(self, now):
        blocks = []
        source = self.reception
        if source is not None and source.valid:
            blocks.append(source.report_block(now))
        # RFC 3550 6.4: a sender is one that sent data since the report before last.
        sent = self.packets_sent != self._sent_at_report
        sender = sent or self._was_sender
        self._was_sender = sent
        self._sent_at_report = self.packets_sent
        if sender:
            rtp_ts = self._ts
            if self._ts_time is not None:
                rtp_ts = (rtp_ts + int((now - self._ts_time) * self.clock_rate)) & 0xFFFFFFFF
            report = SenderReport(self.ssrc, ntp_timestamp(now + self.ntp_offset), rtp_ts,
                                  self.packets_sent, self.octets_sent, blocks)
            data = encode_sender_report(report)
        else:
            data = encode_receiver_report(ReceiverReport(self.ssrc, blocks))
        return data + encode_sdes(self.ssrc, self.cname)

    def _queue_report(self, now, extra=b""):
        if self.remote_rtcp is None:
            return
        channel = CHANNEL_RTP if self.rtcp_mux else CHANNEL_RTCP
        self._out.append((channel, self._report(now) + extra, self.remote_rtcp))
        self.reports_sent += 1

    def close(self, now, reason=""):
        """End the session: queue a final report with an RTCP BYE."""
        if self.closed:
            return
        self._queue_report(now, encode_bye([self.ssrc], reason))
        self.closed = True
        self._next_rtcp = None

    # --- statistics ----------------------------------------------------------

    def stats(self):
        """A snapshot of the session's figures as a plain dict."""
        source = self.reception
        out = {
            "ssrc": self.ssrc,
            "packets_sent": self.packets_sent,
            "octets_sent": self.octets_sent,
            "reports_sent": self.reports_sent,
            "malformed": self.malformed,
            "unknown_payload": self.unknown_payload,
            "rtt": self.rtt,
            "remote_ssrc": None,
            "packets_received": 0,
            "packets_lost": 0,
            "jitter_ms": 0.0,
            "remote_fraction_lost": None,
            "remote_jitter_ms": None,
            "buffer": self.jitter.stats.as_dict(),
        }
        if source is not None:
            out["remote_ssrc"] = source.ssrc
            out["packets_received"] = source.received
            out["packets_lost"] = source.cumulative_lost
            out["jitter_ms"] = source.jitter * 1000.0 / self.clock_rate
        if self.remote_report is not None:
            out["remote_fraction_lost"] = self.remote_report.fraction_lost
            out["remote_jitter_ms"] = self.remote_report.jitter * 1000.0 / self.clock_rate
        return out
