"""G.711 bit-exactness against CPython's audioop (audioop-lts on 3.13+).

Every one of the 65536 linear inputs and all 256 codes, for both laws.
"""

import struct
import warnings

from firmware.core import g711

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # stdlib up to 3.12; the audioop-lts package provides it after

ALL_SAMPLES = struct.pack("<65536h", *range(-32768, 32768))
ALL_CODES = bytes(range(256))


def test_ulaw_encode_every_sample():
    assert g711.ulaw_encode(ALL_SAMPLES) == audioop.lin2ulaw(ALL_SAMPLES, 2)


def test_alaw_encode_every_sample():
    assert g711.alaw_encode(ALL_SAMPLES) == audioop.lin2alaw(ALL_SAMPLES, 2)


def test_ulaw_decode_every_code():
    assert g711.ulaw_decode(ALL_CODES) == audioop.ulaw2lin(ALL_CODES, 2)


def test_alaw_decode_every_code():
    assert g711.alaw_decode(ALL_CODES) == audioop.alaw2lin(ALL_CODES, 2)


def test_single_sample_reference_functions():
    for sample in range(-32768, 32768):
        packed = struct.pack("<h", sample)
        assert g711.linear_to_ulaw(sample) == audioop.lin2ulaw(packed, 2)[0]
        assert g711.linear_to_alaw(sample) == audioop.lin2alaw(packed, 2)[0]


def test_frame_sized_calls():
    frame = ALL_SAMPLES[20000:20320]
    assert g711.PCMU.encode(frame) == audioop.lin2ulaw(frame, 2)
    assert g711.PCMA.encode(frame) == audioop.lin2alaw(frame, 2)
    codes = g711.PCMA.encode(frame)
    assert g711.PCMA.decode(codes) == audioop.alaw2lin(codes, 2)


def test_every_frame_function_on_every_input():
    # Each interpreter runs its own pair of frame functions (see the g711
    # module rule); all of them are checked here, whichever the codecs use.
    ulaw, alaw = g711.ulaw_table(), g711.alaw_table()
    assert g711.encode_itemgetter(ALL_SAMPLES, ulaw) == audioop.lin2ulaw(ALL_SAMPLES, 2)
    assert g711.encode_itemgetter(ALL_SAMPLES, alaw) == audioop.lin2alaw(ALL_SAMPLES, 2)
    assert g711.encode_comprehension(ALL_SAMPLES, ulaw) == audioop.lin2ulaw(ALL_SAMPLES, 2)
    assert g711.encode_comprehension(ALL_SAMPLES, alaw) == audioop.lin2alaw(ALL_SAMPLES, 2)
    for to_linear, reference in ((g711.ulaw_to_linear, audioop.ulaw2lin),
                                 (g711.alaw_to_linear, audioop.alaw2lin)):
        expected = reference(ALL_CODES, 2)
        assert g711.decode_join(ALL_CODES, g711.pairs_table(to_linear)) == expected
        low = bytes([b & 0xFF for b in struct.unpack("<256h", expected)])
        high = bytes([(b >> 8) & 0xFF for b in struct.unpack("<256h", expected)])
        assert g711.decode_translate(ALL_CODES, low, high) == expected
