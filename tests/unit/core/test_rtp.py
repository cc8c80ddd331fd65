"""RTP packet coding and wrap-around arithmetic."""

import struct

from firmware.core.rtp import RtpError, decode_rtp, encode_rtp, seq_diff, ts_diff


def _raises(function, *args):
    try:
        function(*args)
    except RtpError:
        return True
    return False


def test_encode_header_fields():
    data = encode_rtp(8, 0x1234, 0x89ABCDEF, 0xDEADBEEF, b"xyz", marker=True)
    assert len(data) == 15
    assert data[0] == 0x80  # V=2, no padding, extension or CSRCs
    assert data[1] == 0x80 | 8
    assert struct.unpack("!HII", data[2:12]) == (0x1234, 0x89ABCDEF, 0xDEADBEEF)
    assert data[12:] == b"xyz"
    assert encode_rtp(0, 1, 2, 3, b"")[1] == 0


def test_encode_decode_round_trip():
    data = encode_rtp(101, 65535, 4294967295, 1, bytes(range(160)))
    packet = decode_rtp(data)
    assert packet.payload_type == 101
    assert packet.sequence == 65535
    assert packet.timestamp == 4294967295
    assert packet.ssrc == 1
    assert packet.marker is False
    assert packet.payload == bytes(range(160))
    assert packet.csrcs == ()


def test_encode_wraps_sequence_and_timestamp():
    packet = decode_rtp(encode_rtp(0, 65536, 1 << 32, 7, b"a"))
    assert packet.sequence == 0
    assert packet.timestamp == 0
    packet = decode_rtp(encode_rtp(0, 65537, (1 << 32) + 160, 7, b"a"))
    assert (packet.sequence, packet.timestamp) == (1, 160)


def test_decode_skips_csrcs_extension_and_padding():
    header = struct.pack("!BBHII", 0x80 | 0x20 | 0x10 | 2, 0x80 | 0, 10, 20, 30)
    csrcs = struct.pack("!II", 111, 222)
    extension = struct.pack("!HH", 0xBEDE, 2) + bytes(8)
    payload = b"PAYLOAD"
    padding = bytes(3) + b"\x04"
    packet = decode_rtp(header + csrcs + extension + payload + padding)
    assert packet.csrcs == (111, 222)
    assert packet.payload == payload
    assert packet.marker is True
    assert (packet.sequence, packet.timestamp, packet.ssrc) == (10, 20, 30)


def test_decode_rejects_malformed_packets():
    good = encode_rtp(0, 1, 2, 3, b"abcd")
    assert _raises(decode_rtp, good[:11])
    assert _raises(decode_rtp, bytes([0x40]) + good[1:])  # version 1
    assert _raises(decode_rtp, bytes([0x80 | 3]) + good[1:12])  # CSRCs missing
    ext = bytes([0x90]) + good[1:12] + struct.pack("!HH", 0, 5)
    assert _raises(decode_rtp, ext)  # extension longer than the packet
    padded = bytes([0xA0]) + good[1:] + b"\x09"
    assert _raises(decode_rtp, padded)  # padding longer than the payload
    zero_pad = bytes([0xA0]) + good[1:] + b"\x00"
    assert _raises(decode_rtp, zero_pad)
    assert not _raises(decode_rtp, good)


def test_sequence_and_timestamp_differences_wrap():
    assert seq_diff(0, 65535) == 1
    assert seq_diff(65535, 0) == -1
    assert seq_diff(5, 5) == 0
    assert seq_diff(0x8000, 0) == -0x8000
    assert ts_diff(0, 0xFFFFFF60) == 160
    assert ts_diff(0xFFFFFF60, 0) == -160
    assert ts_diff(100, 50) == 50


def test_plain_header_decodes_like_the_general_parser():
    # V=2 without padding, extension or CSRCs is read in one step; the result
    # must be what the general path gives for the same fields.
    for pt, marker in ((0, False), (8, True), (127, True), (101, False)):
        for payload in (b"", b"\x00", bytes(range(160))):
            data = encode_rtp(pt, 65535, 0xFFFFFFFF, 0xFFFFFFFF, payload, marker)
            assert data[0] == 0x80
            for kind in (bytes, bytearray, memoryview):
                packet = decode_rtp(kind(data))
                assert (packet.payload_type, packet.sequence, packet.timestamp, packet.ssrc,
                        packet.marker, packet.csrcs) == (pt, 65535, 0xFFFFFFFF, 0xFFFFFFFF,
                                                         marker, ())
                assert packet.payload == payload and type(packet.payload) is bytes
    # The same fields behind a (zero-length) extension: the general path.
    header = struct.pack("!BBHII", 0x90, 0x88, 7, 8, 9) + struct.pack("!HH", 0xBEDE, 0)
    packet = decode_rtp(header + b"abc")
    assert (packet.payload_type, packet.marker, packet.payload) == (8, True, b"abc")
    assert _raises(decode_rtp, b"\x80" * 11)
