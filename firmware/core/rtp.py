"""RTP packets (RFC 3550 section 5) and sequence arithmetic.

Rule: ``decode_rtp`` takes bytes off the wire and returns an ``RtpPacket`` or
raises ``RtpError`` (a ValueError), never anything else; ``encode_rtp``
builds wire bytes from plain values. Sequence numbers wrap at 2**16 and
timestamps at 2**32: compare them with ``seq_diff``/``ts_diff``, never with
``<``. The usual packet (a plain 12-byte header) takes a short path through
``decode_rtp`` with the same result as the general one. RTCP and the
reception statistics behind it are in ``rtcp``.
"""

import struct

RTP_VERSION = 2
RTP_HEADER_SIZE = 12
SEQ_MOD = 1 << 16
TS_MOD = 1 << 32

# The first octet of almost every RTP packet: version 2, no padding, no
# header extension, no CSRCs. Such a header is fixed-size.
PLAIN_FIRST_OCTET = 0x80

_unpack_from = struct.unpack_from


class RtpError(ValueError):
    """Bytes that are not a well-formed RTP or RTCP packet."""


def seq_diff(a, b):
    """a - b for 16-bit sequence numbers, in -32768..32767."""
    return ((a - b + 0x8000) & 0xFFFF) - 0x8000


def ts_diff(a, b):
    """a - b for 32-bit RTP timestamps, in -2**31..2**31-1."""
    return ((a - b + 0x80000000) & 0xFFFFFFFF) - 0x80000000



class RtpPacket:
    """A decoded RTP packet; ``payload`` is bytes without header or padding."""

    __slots__ = ("payload_type", "sequence", "timestamp", "ssrc", "marker", "payload", "csrcs")

    def __init__(self, payload_type, sequence, timestamp, ssrc, payload, marker=False, csrcs=()):
        self.payload_type = payload_type
        self.sequence = sequence
        self.timestamp = timestamp
        self.ssrc = ssrc
        self.payload = payload
        self.marker = marker
        self.csrcs = csrcs

    def __repr__(self):
        return "RtpPacket(pt=%d seq=%d ts=%d ssrc=%08x%s %d bytes)" % (
            self.payload_type, self.sequence, self.timestamp, self.ssrc,
            " M" if self.marker else "", len(self.payload))


def encode_rtp(payload_type, sequence, timestamp, ssrc, payload, marker=False):
    """A version-2 RTP packet with no CSRCs, extension or padding."""
    return struct.pack(
        "!BBHII", 0x80, (payload_type & 0x7F) | (0x80 if marker else 0),
        sequence & 0xFFFF, timestamp & 0xFFFFFFFF, ssrc & 0xFFFFFFFF) + payload


def decode_rtp(data):
    """Parse an RTP packet, skipping CSRCs, a header extension and padding."""
    size = len(data)
    if size < RTP_HEADER_SIZE:
        raise RtpError("RTP packet shorter than its header")
    first = data[0]
    if first == PLAIN_FIRST_OCTET:
        second = data[1]
        sequence, timestamp, ssrc = _unpack_from("!HII", data, 2)
        return RtpPacket(second & 0x7F, sequence, timestamp, ssrc, bytes(data[RTP_HEADER_SIZE:]),
                         bool(second & 0x80))
    if first >> 6 != RTP_VERSION:
        raise RtpError("RTP version %d" % (first >> 6))
    second = data[1]
    sequence, timestamp, ssrc = struct.unpack_from("!HII", data, 2)
    count = first & 0x0F
    offset = RTP_HEADER_SIZE + 4 * count
    if offset > size:
        raise RtpError("RTP CSRC list past the end")
    csrcs = struct.unpack_from("!%dI" % count, data, RTP_HEADER_SIZE) if count else ()
    if first & 0x10:
        if offset + 4 > size:
            raise RtpError("RTP header extension past the end")
        words = struct.unpack_from("!H", data, offset + 2)[0]
        offset += 4 + 4 * words
        if offset > size:
            raise RtpError("RTP header extension past the end")
    end = size
    if first & 0x20:
        pad = data[size - 1]
        if pad == 0 or offset + pad > size:
            raise RtpError("RTP padding count %d" % pad)
        end = size - pad
    return RtpPacket(second & 0x7F, sequence, timestamp, ssrc, bytes(data[offset:end]),
                     bool(second & 0x80), csrcs)
