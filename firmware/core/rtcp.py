"""RTCP (RFC 3550 section 6) and the reception statistics behind its reports.

Rule: ``decode_rtcp`` takes a compound packet off the wire and returns its
packets or raises ``RtpError`` (a ValueError), never anything else;
``encode_*`` build wire bytes from plain values. ``ReceptionStats`` follows
RFC 3550 appendix A to the letter: A.1 for source validation and sequence
extension, A.3 for the loss figures of a report block, A.8 for interarrival
jitter (in timestamp units, kept times 16 in an integer as in the RFC's
reference code). Times are seconds as floats, passed in; NTP timestamps are
64-bit integers. The usual packet (the next number of a valid source) takes
a short path through ``ReceptionStats.update`` with the same result as the
general one.
"""

import struct

from firmware.core.rtp import RTP_VERSION, SEQ_MOD, RtpError

RTCP_SR = 200
RTCP_RR = 201
RTCP_SDES = 202
RTCP_BYE = 203
RTCP_APP = 204
SDES_CNAME = 1

# Seconds from the NTP era (1900) to the Unix epoch (1970).
NTP_UNIX_OFFSET = 2208988800

# RFC 3550 appendix A.1 source-validation constants.
MAX_DROPOUT = 3000
MAX_MISORDER = 100
MIN_SEQUENTIAL = 2

_unpack_from = struct.unpack_from


def ntp_timestamp(seconds):
    """Seconds since 1900 (float) to a 64-bit NTP timestamp."""
    whole = int(seconds)
    frac = int((seconds - whole) * 4294967296.0)
    return ((whole & 0xFFFFFFFF) << 32) | (frac & 0xFFFFFFFF)


def ntp_middle(ntp):
    """The middle 32 bits of a 64-bit NTP timestamp (the LSR field's unit)."""
    return (ntp >> 16) & 0xFFFFFFFF


def is_rtcp(data):
    """RFC 5761 demultiplexing: second octet 192..223 means RTCP."""
    return len(data) > 1 and 192 <= data[1] <= 223



class ReportBlock:
    """One reception report block (RFC 3550 6.4.1)."""

    __slots__ = ("ssrc", "fraction_lost", "cumulative_lost", "highest_sequence", "jitter",
                 "lsr", "dlsr")

    def __init__(self, ssrc, fraction_lost, cumulative_lost, highest_sequence, jitter, lsr, dlsr):
        self.ssrc = ssrc
        self.fraction_lost = fraction_lost
        self.cumulative_lost = cumulative_lost
        self.highest_sequence = highest_sequence
        self.jitter = jitter
        self.lsr = lsr
        self.dlsr = dlsr

    def __repr__(self):
        return "ReportBlock(ssrc=%08x frac=%d lost=%d seq=%d jitter=%d lsr=%08x dlsr=%d)" % (
            self.ssrc, self.fraction_lost, self.cumulative_lost, self.highest_sequence,
            self.jitter, self.lsr, self.dlsr)


class SenderReport:
    __slots__ = ("ssrc", "ntp_timestamp", "rtp_timestamp", "packet_count", "octet_count",
                 "reports")

    def __init__(self, ssrc, ntp_timestamp, rtp_timestamp, packet_count, octet_count,
                 reports=()):
        self.ssrc = ssrc
        self.ntp_timestamp = ntp_timestamp
        self.rtp_timestamp = rtp_timestamp
        self.packet_count = packet_count
        self.octet_count = octet_count
        self.reports = list(reports)


class ReceiverReport:
    __slots__ = ("ssrc", "reports")

    def __init__(self, ssrc, reports=()):
        self.ssrc = ssrc
        self.reports = list(reports)


class SourceDescription:
    """SDES: ``chunks`` is a list of (ssrc, [(item type, bytes)])."""

    __slots__ = ("chunks",)

    def __init__(self, chunks):
        self.chunks = chunks

    def cname(self, ssrc):
        for chunk_ssrc, items in self.chunks:
            if chunk_ssrc == ssrc:
                for kind, value in items:
                    if kind == SDES_CNAME:
                        return value
        return None


class Bye:
    __slots__ = ("ssrcs", "reason")

    def __init__(self, ssrcs, reason=b""):
        self.ssrcs = list(ssrcs)
        self.reason = reason


def _header(count, packet_type, body_length):
    # body_length is a multiple of 4; the length field counts 32-bit words - 1.
    return struct.pack("!BBH", 0x80 | count, packet_type, body_length // 4)


def _encode_blocks(blocks):
    out = []
    for block in blocks:
        out.append(struct.pack(
            "!IIIIII", block.ssrc,
            ((block.fraction_lost & 0xFF) << 24) | (block.cumulative_lost & 0xFFFFFF),
            block.highest_sequence & 0xFFFFFFFF, block.jitter & 0xFFFFFFFF,
            block.lsr & 0xFFFFFFFF, block.dlsr & 0xFFFFFFFF))
    return b"".join(out)


def _clamp_lost(lost):
    if lost > 0x7FFFFF:
        return 0x7FFFFF
    if lost < -0x800000:
        return -0x800000
    return lost


def encode_sender_report(report):
    blocks = report.reports[:31]
    body = struct.pack(
        "!IIIIII", report.ssrc, (report.ntp_timestamp >> 32) & 0xFFFFFFFF,
        report.ntp_timestamp & 0xFFFFFFFF, report.rtp_timestamp & 0xFFFFFFFF,
        report.packet_count & 0xFFFFFFFF, report.octet_count & 0xFFFFFFFF) + _encode_blocks(blocks)
    return _header(len(blocks), RTCP_SR, len(body)) + body


def encode_receiver_report(report):
    blocks = report.reports[:31]
    body = struct.pack("!I", report.ssrc) + _encode_blocks(blocks)
    return _header(len(blocks), RTCP_RR, len(body)) + body


def _pad4(data):
    return data + bytes((-len(data)) & 3)


def encode_sdes(ssrc, cname):
    """An SDES packet with one chunk carrying a CNAME (str or bytes, <= 255 bytes)."""
    if isinstance(cname, str):
        cname = cname.encode()
    cname = cname[:255]
    # Item list ends with a null octet, then pads to a 32-bit boundary.
    chunk = _pad4(struct.pack("!IBB", ssrc, SDES_CNAME, len(cname)) + cname + b"\x00")
    return _header(1, RTCP_SDES, len(chunk)) + chunk


def encode_bye(ssrcs, reason=b""):
    if isinstance(reason, str):
        reason = reason.encode()
    ssrcs = list(ssrcs)[:31]
    body = b"".join([struct.pack("!I", s) for s in ssrcs])
    if reason:
        reason = reason[:255]
        body = _pad4(body + bytes((len(reason),)) + reason)
    return _header(len(ssrcs), RTCP_BYE, len(body)) + body


def _decode_blocks(data, offset, count, end):
    blocks = []
    for _ in range(count):
        if offset + 24 > end:
            raise RtpError("RTCP report block past the end")
        ssrc, word, highest, jitter, lsr, dlsr = struct.unpack_from("!IIIIII", data, offset)
        lost = word & 0xFFFFFF
        if lost & 0x800000:
            lost -= 0x1000000
        blocks.append(ReportBlock(ssrc, word >> 24, lost, highest, jitter, lsr, dlsr))
        offset += 24
    return blocks


def _decode_sdes(data, offset, count, end):
    chunks = []
    for _ in range(count):
        if offset + 4 > end:
            raise RtpError("SDES chunk past the end")
        ssrc = struct.unpack_from("!I", data, offset)[0]
        offset += 4
        items = []
        while True:
            if offset >= end:
                raise RtpError("SDES item list not terminated")
            kind = data[offset]
            if kind == 0:
                offset = (offset + 4) & ~3  # null item, then pad to a word boundary
                break
            if offset + 2 > end or offset + 2 + data[offset + 1] > end:
                raise RtpError("SDES item past the end")
            length = data[offset + 1]
            items.append((kind, bytes(data[offset + 2:offset + 2 + length])))
            offset += 2 + length
        chunks.append((ssrc, items))
    return SourceDescription(chunks)


def _decode_bye(data, offset, count, end):
    if offset + 4 * count > end:
        raise RtpError("BYE SSRC list past the end")
    ssrcs = list(struct.unpack_from("!%dI" % count, data, offset)) if count else []
    offset += 4 * count
    reason = b""
    if offset < end:
        length = data[offset]
        if offset + 1 + length > end:
            raise RtpError("BYE reason past the end")
        reason = bytes(data[offset + 1:offset + 1 + length])
    return Bye(ssrcs, reason)


def decode_rtcp(data):
    """Parse a compound RTCP packet into a list of report objects.

    SR, RR, SDES and BYE are decoded; other packet types (APP, feedback, XR)
    are skipped. Raises RtpError when a length field does not fit the data.
    """
    size = len(data)
    if size < 4:
        raise RtpError("RTCP packet shorter than its header")
    packets = []
    offset = 0
    while offset < size:
        if offset + 4 > size:
            raise RtpError("RTCP header past the end")
        first, packet_type, words = struct.unpack_from("!BBH", data, offset)
        if first >> 6 != RTP_VERSION:
            raise RtpError("RTCP version %d" % (first >> 6))
        end = offset + 4 + 4 * words
        if end > size:
            raise RtpError("RTCP length past the end")
        body_end = end
        if first & 0x20:
            pad = data[end - 1]
            if pad == 0 or pad > 4 * words:
                raise RtpError("RTCP padding count %d" % pad)
            body_end = end - pad
        count = first & 0x1F
        body = offset + 4
        if packet_type == RTCP_SR:
            if body + 24 > body_end:
                raise RtpError("SR shorter than its sender info")
            ssrc, msw, lsw, rtp_ts, packets_sent, octets = struct.unpack_from(
                "!IIIIII", data, body)
            blocks = _decode_blocks(data, body + 24, count, body_end)
            packets.append(SenderReport(ssrc, (msw << 32) | lsw, rtp_ts, packets_sent, octets,
                                        blocks))
        elif packet_type == RTCP_RR:
            if body + 4 > body_end:
                raise RtpError("RR shorter than its SSRC")
            ssrc = struct.unpack_from("!I", data, body)[0]
            packets.append(ReceiverReport(ssrc, _decode_blocks(data, body + 4, count, body_end)))
        elif packet_type == RTCP_SDES:
            packets.append(_decode_sdes(data, body, count, body_end))
        elif packet_type == RTCP_BYE:
            packets.append(_decode_bye(data, body, count, body_end))
        offset = end
    return packets


# --- reception statistics --------------------------------------------------


class ReceptionStats:
    """What one remote source's packets tell us: RFC 3550 A.1, A.3 and A.8.

    ``update`` is called for every RTP packet from the source with its
    arrival time; it returns False while the source is on probation or for a
    packet that a sequence jump makes suspect, True when the packet counts.
    ``report_block(now)`` gives the ReportBlock for the next RTCP report and
    starts a new reporting interval. ``on_sender_report`` records the
    source's SR so that LSR/DLSR can be filled in.
    """

    __slots__ = ("ssrc", "clock_rate", "max_seq", "cycles", "base_seq", "bad_seq",
                 "probation", "received", "expected_prior", "received_prior", "transit",
                 "jitter_q4", "last_sr", "last_sr_arrival", "heard")

    def __init__(self, ssrc, clock_rate=8000, probation=MIN_SEQUENTIAL):
        self.ssrc = ssrc
        self.clock_rate = clock_rate
        self.max_seq = 0
        self.cycles = 0
        self.base_seq = 0
        self.bad_seq = SEQ_MOD + 1
        self.probation = probation
        self.received = 0
        self.expected_prior = 0
        self.received_prior = 0
        self.transit = None
        self.jitter_q4 = 0
        self.last_sr = 0
        self.last_sr_arrival = 0.0
        self.heard = False

    def _init_seq(self, seq):
        self.base_seq = seq
        self.max_seq = seq
        self.bad_seq = SEQ_MOD + 1
        self.cycles = 0
        self.received = 0
        self.received_prior = 0
        self.expected_prior = 0

    def update(self, seq, timestamp, arrival, measure_jitter=True):
        """Account one packet (A.1); measure jitter (A.8) unless told not to.

        Telephone-event packets keep the event's start timestamp across
        updates, so they must be accounted with ``measure_jitter=False``.
        """
        if seq == self.max_seq + 1 and self.probation == 0 and self.heard:
            # The usual packet of a valid source, the one after the last: A.1
            # comes down to these two counters (a wrap, 65535 to 0, is not
            # this case), and A.8 is inlined.
            self.max_seq = seq
            self.received += 1
            if measure_jitter:
                transit = int(arrival * self.clock_rate) - timestamp
                last = self.transit
                if last is not None:
                    d = ((transit - last + 0x80000000) & 0xFFFFFFFF) - 0x80000000
                    if d < 0:
                        d = -d
                    self.jitter_q4 += d - ((self.jitter_q4 + 8) >> 4)
                self.transit = transit
            return True
        if not self.heard:
            self.heard = True
            if self.probation <= 0:
                self.probation = 0
                self._init_seq(seq)
                self.received = 1
                self._jitter(timestamp, arrival, measure_jitter)
                return True
            # A new source: pretend the packet before this one was seen.
            self.max_seq = (seq - 1) & 0xFFFF
        if self.probation:
            if seq == (self.max_seq + 1) & 0xFFFF:
                self.probation -= 1
                self.max_seq = seq
                if self.probation == 0:
                    self._init_seq(seq)
                    self.received += 1
                    self._jitter(timestamp, arrival, measure_jitter)
                    return True
            else:
                self.probation = MIN_SEQUENTIAL - 1
                self.max_seq = seq
            return False
        udelta = (seq - self.max_seq) & 0xFFFF
        if udelta < MAX_DROPOUT:
            if seq < self.max_seq:
                self.cycles += SEQ_MOD  # wrapped
            self.max_seq = seq
        elif udelta <= SEQ_MOD - MAX_MISORDER:
            # A very large jump: believe it only when the next packet follows it.
            if seq == self.bad_seq:
                self._init_seq(seq)
                self.transit = None
            else:
                self.bad_seq = (seq + 1) & 0xFFFF
                return False
        # else: a duplicate or a reordered packet; counted, as A.1 does.
        self.received += 1
        self._jitter(timestamp, arrival, measure_jitter)
        return True

    def _jitter(self, timestamp, arrival, measure):
        if not measure:
            return
        transit = int(arrival * self.clock_rate) - timestamp
        if self.transit is not None:
            d = ((transit - self.transit + 0x80000000) & 0xFFFFFFFF) - 0x80000000
            if d < 0:
                d = -d
            self.jitter_q4 += d - ((self.jitter_q4 + 8) >> 4)
        self.transit = transit

    @property
    def valid(self):
        return self.probation == 0

    @property
    def extended_max(self):
        return self.cycles + self.max_seq

    @property
    def expected(self):
        return self.extended_max - self.base_seq + 1 if self.valid else 0

    @property
    def cumulative_lost(self):
        return _clamp_lost(self.expected - self.received)

    @property
    def jitter(self):
        """Interarrival jitter in timestamp units (A.8)."""
        return self.jitter_q4 >> 4

    def on_sender_report(self, ntp, arrival):
        self.last_sr = ntp_middle(ntp)
        self.last_sr_arrival = arrival

    def report_block(self, now):
        expected = self.expected
        expected_interval = expected - self.expected_prior
        self.expected_prior = expected
        received_interval = self.received - self.received_prior
        self.received_prior = self.received
        lost_interval = expected_interval - received_interval
        if expected_interval == 0 or lost_interval <= 0:
            fraction = 0
        else:
            fraction = min(255, (lost_interval << 8) // expected_interval)
        dlsr = 0
        if self.last_sr:
            dlsr = int((now - self.last_sr_arrival) * 65536)
            if dlsr < 0:
                dlsr = 0
        return ReportBlock(self.ssrc, fraction, self.cumulative_lost, self.extended_max & 0xFFFFFFFF,
                           self.jitter, self.last_sr, dlsr)
