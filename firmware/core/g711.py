"""G.711 mu-law and A-law, table driven, bit-exact with the classic reference.

Rule: PCM is bytes of little-endian signed 16-bit samples (the byte order of
every board this firmware runs on), codes are bytes with one code per sample;
the encoders and decoders take and return whole frames and agree bit for bit
with the Sun reference implementation that CPython's ``audioop`` uses (a
mu-law encoder keeps the top 14 bits of a sample, an A-law encoder the top 13,
both truncating). Encoding is one lookup per sample in a 64 KiB table indexed
by the raw 16-bit sample, built by range fills the first time a law is used,
so a phone only pays memory for the law it negotiated. Decoding is one lookup
per code in a 256-entry table. The single-sample functions are the reference
the tables are checked against.

Each interpreter gets the frame functions that are fastest on it, all of
them tested against the reference: MicroPython encodes with a comprehension
over the samples and decodes by joining pre-built two-byte samples
(``encode_comprehension``, ``decode_join``); CPython runs no Python step per
sample: it encodes with one itemgetter of the whole frame and decodes with
two ``bytes.translate`` passes (low and high byte) interleaved by step-slice
assignment, neither of which MicroPython has (``encode_itemgetter``,
``decode_translate``).
"""

from array import array

from firmware.compat import MICROPYTHON

_QUANT_MASK = 0x0F
_ULAW_BIAS = 0x84
_ULAW_CLIP = 8159  # largest 14-bit magnitude mu-law represents
_SEG_ULAW_END = (0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF)
_SEG_ALAW_END = (0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF)

ULAW_SILENCE = 0xFF  # the code for linear 0
ALAW_SILENCE = 0xD5


def _segment(value, ends):
    seg = 0
    while seg < 8 and value > ends[seg]:
        seg += 1
    return seg


def linear_to_ulaw(sample):
    """One signed 16-bit sample to its mu-law code (reference, slow)."""
    value = sample >> 2  # 14-bit two's complement, truncated like the reference
    if value < 0:
        value = -value
        mask = 0x7F
    else:
        mask = 0xFF
    if value > _ULAW_CLIP:
        value = _ULAW_CLIP
    value += _ULAW_BIAS >> 2
    seg = _segment(value, _SEG_ULAW_END)
    if seg >= 8:
        return 0x7F ^ mask
    return ((seg << 4) | ((value >> (seg + 1)) & _QUANT_MASK)) ^ mask


def ulaw_to_linear(code):
    """One mu-law code to its signed 16-bit sample."""
    code = ~code & 0xFF
    t = (((code & _QUANT_MASK) << 3) + _ULAW_BIAS) << ((code & 0x70) >> 4)
    return _ULAW_BIAS - t if code & 0x80 else t - _ULAW_BIAS


def linear_to_alaw(sample):
    """One signed 16-bit sample to its A-law code (reference, slow)."""
    value = sample >> 3  # 13-bit two's complement, truncated like the reference
    if value >= 0:
        mask = 0xD5
    else:
        mask = 0x55
        value = -value - 1
    seg = _segment(value, _SEG_ALAW_END)
    if seg >= 8:
        return 0x7F ^ mask
    if seg < 2:
        quant = (value >> 1) & _QUANT_MASK
    else:
        quant = (value >> seg) & _QUANT_MASK
    return ((seg << 4) | quant) ^ mask


def alaw_to_linear(code):
    """One A-law code to its signed 16-bit sample."""
    code ^= 0x55
    t = (code & _QUANT_MASK) << 4
    seg = (code & 0x70) >> 4
    if seg == 0:
        t += 8
    elif seg == 1:
        t += 0x108
    else:
        t = (t + 0x108) << (seg - 1)
    return t if code & 0x80 else -t


# --- encoder tables -------------------------------------------------------
#
# Each code covers a contiguous run of 14-bit (mu-law) or 13-bit (A-law)
# values, so the 65536-entry table is 512 slice fills rather than 65536
# Python-level steps: a few milliseconds on MicroPython instead of tens.


def _fill(table, first_sample, last_sample, code):
    """Set the table entries for signed samples first..last (same sign)."""
    if last_sample < first_sample:
        return
    table[first_sample & 0xFFFF:(last_sample & 0xFFFF) + 1] = bytes((code,)) * (
        last_sample - first_sample + 1)


def _build_ulaw_table():
    table = bytearray(65536)
    for seg in range(8):
        for quant in range(16):
            # Biased magnitudes (value + 33) that land on this segment/step.
            low = (16 + quant) << (seg + 1)
            high = ((17 + quant) << (seg + 1)) - 1
            first = low - (_ULAW_BIAS >> 2)
            last = high - (_ULAW_BIAS >> 2)
            if last < 0:
                continue
            if first < 0:
                first = 0
            if seg == 7 and quant == 15:
                last = 8191  # magnitudes above the clip share the top code
            code = (seg << 4) | quant
            _fill(table, first << 2, (last << 2) + 3, code ^ 0xFF)
            # Negative values: magnitude m is value -m (14-bit), 1..8192.
            neg_first = first if first > 0 else 1
            neg_last = 8192 if last == 8191 else last
            _fill(table, -(neg_last << 2), -(neg_first << 2) + 3, code ^ 0x7F)
    return table


def _build_alaw_table():
    table = bytearray(65536)
    for seg in range(8):
        step = 1 << (seg if seg > 1 else 1)
        base = 0 if seg == 0 else 16 << seg
        for quant in range(16):
            first = base + quant * step
            last = first + step - 1
            code = (seg << 4) | quant
            _fill(table, first << 3, (last << 3) + 7, code ^ 0xD5)
            # Negative values: magnitude m stands for value -m - 1.
            _fill(table, (-last - 1) << 3, ((-first - 1) << 3) + 7, code ^ 0x55)
    return table


_ulaw_table = None
_alaw_table = None


def ulaw_table():
    """The 65536-byte encoder table indexed by the unsigned 16-bit sample."""
    global _ulaw_table
    if _ulaw_table is None:
        _ulaw_table = _build_ulaw_table()
    return _ulaw_table


def alaw_table():
    """The 65536-byte encoder table indexed by the unsigned 16-bit sample."""
    global _alaw_table
    if _alaw_table is None:
        _alaw_table = _build_alaw_table()
    return _alaw_table


# --- frame encoders and decoders ------------------------------------------


def _raw(pcm):
    # array() reads bytes and bytearray as raw samples but iterates anything
    # else (a memoryview) item by item on CPython.
    if isinstance(pcm, (bytes, bytearray)):
        return pcm
    return bytes(pcm)


def encode_comprehension(pcm, table):
    """PCM to codes through a 65536-entry ``table``, a comprehension over the
    samples (portable; MicroPython's frame encoder)."""
    return bytes([table[s] for s in array("H", _raw(pcm))])


def decode_join(codes, pairs):
    """Codes to PCM by joining pre-built two-byte samples (``pairs[code]``):
    portable; MicroPython's frame decoder."""
    return b"".join([pairs[code] for code in codes])


if not MICROPYTHON:
    from operator import itemgetter

    def encode_itemgetter(pcm, table):
        """``encode_comprehension`` for CPython: one C-level lookup of all the samples
        (an itemgetter of the frame applied to the table), no Python per sample."""
        samples = array("H", _raw(pcm))
        if len(samples) < 2:  # an itemgetter of one item gives the item, not a tuple
            return bytes([table[s] for s in samples])
        return bytes(itemgetter(*samples)(table))

    def decode_translate(codes, low, high):
        """``decode_join`` for CPython: one ``translate`` per byte of the sample
        (``low``/``high`` tables), interleaved into little-endian order."""
        if not isinstance(codes, (bytes, bytearray)):
            codes = bytes(codes)
        out = bytearray(2 * len(codes))
        out[0::2] = codes.translate(low)
        out[1::2] = codes.translate(high)
        return bytes(out)


def pairs_table(to_linear):
    """The 256 samples of a law (``ulaw_to_linear``, ``alaw_to_linear``) as
    two-byte strings: the table of ``decode_join``."""
    return [bytes(array("h", (to_linear(code),))) for code in range(256)]


def _byte_tables(to_linear):
    samples = [to_linear(code) for code in range(256)]
    return bytes([v & 0xFF for v in samples]), bytes([(v >> 8) & 0xFF for v in samples])


if MICROPYTHON:
    _ULAW_PAIRS = pairs_table(ulaw_to_linear)
    _ALAW_PAIRS = pairs_table(alaw_to_linear)

    def ulaw_encode(pcm):
        """Little-endian int16 PCM (bytes-like, even length) to mu-law codes."""
        return encode_comprehension(pcm, _ulaw_table or ulaw_table())

    def alaw_encode(pcm):
        """Little-endian int16 PCM (bytes-like, even length) to A-law codes."""
        return encode_comprehension(pcm, _alaw_table or alaw_table())

    def ulaw_decode(codes):
        """mu-law codes (bytes-like) to little-endian int16 PCM bytes."""
        return decode_join(codes, _ULAW_PAIRS)

    def alaw_decode(codes):
        """A-law codes (bytes-like) to little-endian int16 PCM bytes."""
        return decode_join(codes, _ALAW_PAIRS)

else:
    _ULAW_LOW, _ULAW_HIGH = _byte_tables(ulaw_to_linear)
    _ALAW_LOW, _ALAW_HIGH = _byte_tables(alaw_to_linear)

    def ulaw_encode(pcm):
        """Little-endian int16 PCM (bytes-like, even length) to mu-law codes."""
        return encode_itemgetter(pcm, _ulaw_table or ulaw_table())

    def alaw_encode(pcm):
        """Little-endian int16 PCM (bytes-like, even length) to A-law codes."""
        return encode_itemgetter(pcm, _alaw_table or alaw_table())

    def ulaw_decode(codes):
        """mu-law codes (bytes-like) to little-endian int16 PCM bytes."""
        return decode_translate(codes, _ULAW_LOW, _ULAW_HIGH)

    def alaw_decode(codes):
        """A-law codes (bytes-like) to little-endian int16 PCM bytes."""
        return decode_translate(codes, _ALAW_LOW, _ALAW_HIGH)


class Codec:
    """One G.711 law by its SDP encoding name: frame encoder and decoder."""

    __slots__ = ("name", "encode", "decode", "silence_code")

    def __init__(self, name, encode, decode, silence_code):
        self.name = name
        self.encode = encode
        self.decode = decode
        self.silence_code = silence_code

    def __repr__(self):
        return "Codec(%s)" % self.name


PCMU = Codec("PCMU", ulaw_encode, ulaw_decode, ULAW_SILENCE)
PCMA = Codec("PCMA", alaw_encode, alaw_decode, ALAW_SILENCE)


def codec_by_name(name):
    """The Codec for an SDP encoding name (case-insensitive); ValueError if unknown."""
    upper = name.upper()
    if upper == "PCMU":
        return PCMU
    if upper == "PCMA":
        return PCMA
    raise ValueError("no G.711 codec named %r" % name)
