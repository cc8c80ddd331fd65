"""G.711 tables against the single-sample reference, and codec properties."""

import struct

from firmware.core import g711


def _signed(u):
    return u - 65536 if u >= 32768 else u


def test_ulaw_table_agrees_with_reference_for_every_sample():
    table = g711.ulaw_table()
    assert len(table) == 65536
    for u in range(65536):
        assert table[u] == g711.linear_to_ulaw(_signed(u)), u


def test_alaw_table_agrees_with_reference_for_every_sample():
    table = g711.alaw_table()
    assert len(table) == 65536
    for u in range(65536):
        assert table[u] == g711.linear_to_alaw(_signed(u)), u


def test_decoders_agree_with_reference_for_every_code():
    codes = bytes(range(256))
    ulaw = g711.ulaw_decode(codes)
    alaw = g711.alaw_decode(codes)
    assert len(ulaw) == 512 and len(alaw) == 512
    for code in range(256):
        assert struct.unpack_from("<h", ulaw, 2 * code)[0] == g711.ulaw_to_linear(code)
        assert struct.unpack_from("<h", alaw, 2 * code)[0] == g711.alaw_to_linear(code)


def test_well_known_code_points():
    # G.711 tables: mu-law 0x00/0x80 are the extremes, 0xFF (and 0x7F) zero.
    assert g711.ulaw_to_linear(0x00) == -32124
    assert g711.ulaw_to_linear(0x80) == 32124
    assert g711.ulaw_to_linear(0xFF) == 0
    assert g711.ulaw_to_linear(0x7F) == 0
    assert g711.linear_to_ulaw(0) == g711.ULAW_SILENCE == 0xFF
    # A-law: even-bit inversion, 0xD5/0x55 are the smallest steps around zero.
    assert g711.alaw_to_linear(0xD5) == 8
    assert g711.alaw_to_linear(0x55) == -8
    assert g711.alaw_to_linear(0xAA) == 32256
    assert g711.alaw_to_linear(0x2A) == -32256
    assert g711.linear_to_alaw(0) == g711.ALAW_SILENCE == 0xD5


def test_encoding_a_decoded_value_gives_an_equivalent_code():
    for to_linear, to_code in ((g711.ulaw_to_linear, g711.linear_to_ulaw),
                               (g711.alaw_to_linear, g711.linear_to_alaw)):
        for code in range(256):
            value = to_linear(code)
            assert to_linear(to_code(value)) == value, code


def test_quantisation_is_monotonic_and_bounded():
    for enc, dec in ((g711.linear_to_ulaw, g711.ulaw_to_linear),
                     (g711.linear_to_alaw, g711.alaw_to_linear)):
        previous = -40000
        for x in range(-32768, 32768, 3):
            y = dec(enc(x))
            assert y >= previous, x
            previous = y
            error = y - x if y > x else x - y
            assert error <= (x if x > 0 else -x) // 16 + 16, (x, y)


def test_frame_encode_decode_round_trip():
    samples = [((i * 7919) % 65536) - 32768 for i in range(160)]
    pcm = struct.pack("<160h", *samples)
    for codec in (g711.PCMU, g711.PCMA):
        codes = codec.encode(pcm)
        assert len(codes) == 160
        decoded = codec.decode(codes)
        assert len(decoded) == 320
        # Decoding what was decoded and re-encoded changes nothing.
        assert codec.decode(codec.encode(decoded)) == decoded
        back = struct.unpack("<160h", decoded)
        for i in range(160):
            a = samples[i]
            assert abs(back[i] - a) <= abs(a) // 16 + 16 or abs(a) > 32124


def test_frame_encoders_take_bytearray_and_memoryview():
    pcm = bytearray(struct.pack("<4h", 0, 1000, -1000, 32767))
    expected = bytes([g711.linear_to_ulaw(s) for s in (0, 1000, -1000, 32767)])
    assert g711.ulaw_encode(pcm) == expected
    assert g711.ulaw_encode(memoryview(pcm)) == expected
    expected = bytes([g711.linear_to_alaw(s) for s in (0, 1000, -1000, 32767)])
    assert g711.alaw_encode(bytes(pcm)) == expected


def test_silence_frames():
    silence = bytes(320)
    assert g711.ulaw_encode(silence) == bytes([0xFF]) * 160
    assert g711.alaw_encode(silence) == bytes([0xD5]) * 160
    assert g711.ulaw_decode(bytes([0xFF]) * 160) == silence


def test_codec_by_name():
    assert g711.codec_by_name("PCMU") is g711.PCMU
    assert g711.codec_by_name("pcma") is g711.PCMA
    assert g711.PCMU.silence_code == 0xFF
    try:
        g711.codec_by_name("G729")
    except ValueError:
        pass
    else:
        raise AssertionError("G729 accepted")


def _reference_encode(to_code, pcm):
    return bytes([to_code(s) for s in struct.unpack("<%dh" % (len(pcm) // 2), pcm)])


def _reference_decode(to_linear, codes):
    return b"".join([struct.pack("<h", to_linear(c)) for c in codes])


def test_frame_functions_at_the_edges_of_their_fast_forms():
    # Frames of 0, 1 and 2 samples (one sample is where a lookup of "all the
    # samples at once" returns a single item), in every bytes-like type.
    for count in (0, 1, 2, 3):
        samples = [(-32768, 32767, -1)[i % 3] for i in range(count)]
        pcm = struct.pack("<%dh" % count, *samples)
        for kind in (bytes, bytearray, memoryview):
            assert g711.ulaw_encode(kind(pcm)) == _reference_encode(g711.linear_to_ulaw, pcm)
            assert g711.alaw_encode(kind(pcm)) == _reference_encode(g711.linear_to_alaw, pcm)
        codes = bytes([(0x00, 0x7F, 0x80, 0xFF)[i % 4] for i in range(count)])
        for kind in (bytes, bytearray, memoryview):
            assert g711.ulaw_decode(kind(codes)) == _reference_decode(g711.ulaw_to_linear, codes)
            assert g711.alaw_decode(kind(codes)) == _reference_decode(g711.alaw_to_linear, codes)


def test_decoded_frames_are_bytes():
    # The jitter buffer stores and compares frames: they must not be mutable.
    assert type(g711.ulaw_decode(bytearray(b"\x01\x02"))) is bytes
    assert type(g711.alaw_decode(memoryview(b"\x01\x02"))) is bytes
    assert type(g711.ulaw_encode(bytearray(4))) is bytes


def test_portable_frame_functions_agree_with_the_reference():
    # The forms MicroPython runs, checked on every interpreter for every code
    # and a spread of samples (all samples: the CPython reference test).
    pcm = struct.pack("<4096h", *range(-32768, 32768, 16))
    for table, to_code in ((g711.ulaw_table(), g711.linear_to_ulaw),
                           (g711.alaw_table(), g711.linear_to_alaw)):
        assert g711.encode_comprehension(pcm, table) == _reference_encode(to_code, pcm)
    codes = bytes(range(256))
    for to_linear in (g711.ulaw_to_linear, g711.alaw_to_linear):
        pairs = g711.pairs_table(to_linear)
        assert g711.decode_join(codes, pairs) == _reference_decode(to_linear, codes)
