"""Robustness of the message layer under hostile input (hypothesis; CPython only).

Properties: whatever the bytes, parse_message returns a message or raises
MessageError and nothing else; an accepted message answers every accessor,
serialises, and parses back equal; an error that names a response can build
it. The quick path of the parser returns exactly what the careful path
would. The stream framer gives the same messages whatever the chunking. The
quick acceptance patterns never accept what the full parsers reject, and a
line pattern answers as its value pattern does on the line's value.
"""

import os

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from firmware.core import fieldcheck as fc
from firmware.core import headers as hdr
from firmware.core.errors import MessageError, SipSyntaxError
from firmware.core.framing import KeepAlivePing, KeepAlivePong, StreamFramer
from firmware.core import parse
from firmware.core.parse import parse_message
from firmware.core.quickparse import parse_quick
from firmware.core.uri import is_digits

SETTINGS = settings(max_examples=250, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

SEEDS = [
    (b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
     b"Via: SIP/2.0/TLS client.atlanta.example.com:5061;branch=z9hG4bK74bf9;alias;rport\r\n"
     b"Max-Forwards: 70\r\n"
     b'From: "Alice" <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n'
     b"To: Bob <sip:bob@biloxi.example.com>\r\n"
     b"Call-ID: 3848276298220188511@atlanta.example.com\r\n"
     b"CSeq: 2 INVITE\r\n"
     b"Contact: <sip:alice@[2001:db8::1]:5061;transport=tls>;+sip.instance=\"<urn:uuid:1>\"\r\n"
     b"Content-Type: application/sdp\r\n"
     b"Content-Length: 27\r\n\r\n"
     b"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n"),
    (b"SIP/2.0 401 Unauthorized\r\n"
     b"v: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKx;received=192.0.2.9\r\n"
     b"f: <sip:a@example.com>;tag=1\r\nt: <sip:a@example.com>;tag=2\r\ni: abc@h\r\n"
     b"CSeq: 7 REGISTER\r\n"
     b'WWW-Authenticate: Digest realm="example.com", nonce="84a4cc6f", qop="auth"\r\n'
     b"l: 0\r\n\r\n"),
    (b"REGISTER sip:example.com SIP/2.0\r\n"
     b"Via: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bKr\r\nMax-Forwards: 70\r\n"
     b"From: sip:u@example.com;tag=x\r\nTo: sip:u@example.com\r\nCall-ID: r1\r\n"
     b"CSeq: 1 REGISTER\r\nContact: *\r\nExpires: 0\r\n\r\n"),
]


def _corpus_seeds():
    folder = os.path.join("..", "shared", "corpus", "valid")
    if not os.path.isdir(folder):
        return []
    out = []
    for name in sorted(os.listdir(folder))[:20]:
        if name.endswith(".sip"):
            with open(os.path.join(folder, name), "rb") as f:
                out.append(f.read())
    return out


SEEDS += _corpus_seeds()


def check_outcome(data, stream=False):
    """Parse and check every promise the message layer makes about the result."""
    try:
        msg = parse_message(data, stream)
    except MessageError as err:
        assert err.status in (None, 400, 413, 416, 505), err.status
        assert isinstance(err.reason, str) and isinstance(err.detail, str)
        response = err.response()
        if err.status is None:
            assert response is None
        else:
            assert err.request is not None and err.request.is_request
            assert response.status == err.status
            try:
                parse_message(response.serialize())
            except MessageError:
                pass  # the answer copies whatever headers the broken request had
        return None
    # accepted: the accessors must all work, and a round trip gives it back
    msg.call_id()
    number, method = msg.cseq()
    assert 0 <= number <= 0xFFFFFFFF
    assert msg.vias() and msg.top_via() is not None
    msg.from_addr()
    msg.to_addr()
    msg.contacts()
    if msg.is_request:
        assert method == msg.method
        msg.request_uri()
    out = msg.serialize()
    back = parse_message(out)
    assert back == msg
    assert back.serialize() == out
    return msg


@st.composite
def mutated(draw):
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.integers(0, 7))
        if not data:
            break
        pos = draw(st.integers(0, len(data) - 1))
        if kind == 0:  # truncate
            data = data[:pos]
        elif kind == 1:  # flip bytes
            for _ in range(draw(st.integers(1, 5))):
                data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        elif kind == 2:  # insert random bytes
            data[pos:pos] = draw(st.binary(min_size=1, max_size=20))
        elif kind == 3:  # duplicate a header line
            start = data.rfind(b"\n", 0, pos) + 1
            end = data.find(b"\n", pos)
            if end > start:
                data[start:start] = data[start : end + 1]
        elif kind == 4:  # oversized header
            data[pos:pos] = b"\r\nX-Big: " + b"a" * draw(st.integers(100, 10000)) + b"\r\n"
        elif kind == 5:  # huge or odd Content-Length
            value = draw(st.sampled_from([b"99999999999999999999", b"65536", b"-1", b"1e3",
                                          b"0x10", b"  7 ", b"\xd9\xa3"]))
            data[pos:pos] = b"\r\nContent-Length: " + value + b"\r\n"
        elif kind == 6:  # many parameters / deep nesting
            count = draw(st.integers(10, 2000))
            piece = draw(st.sampled_from([b";p", b";p=1", b"<", b'"', b",", b";;", b"\\"]))
            data[pos:pos] = piece * count
        else:  # bare CR / LF / folding
            data[pos:pos] = draw(st.sampled_from([b"\r", b"\n", b"\r\n ", b"\r\n\r\n", b"\n\n"]))
    return bytes(data)


@SETTINGS
@given(mutated())
def test_mutated_messages(data):
    check_outcome(data)
    check_outcome(data, stream=True)


@SETTINGS
@given(st.binary(max_size=600))
def test_random_bytes(data):
    check_outcome(data)


@SETTINGS
@given(st.binary(max_size=200), st.sampled_from(SEEDS))
def test_random_bytes_after_a_start_line(tail, seed):
    check_outcome(seed[: seed.find(b"\r\n") + 2] + tail)


def _same_message(a, b):
    return (a == b and a.serialize() == b.serialize() and a.headers._lines == b.headers._lines
            and a.headers._keys == b.headers._keys)


@SETTINGS
@given(mutated(), st.booleans())
def test_quick_path_returns_what_the_careful_path_returns(data, stream):
    quick = parse_quick(data, stream)
    if quick is None:
        return  # no verdict: the careful path decides alone
    careful = parse._parse_careful(data, stream)  # raises if it would reject
    assert _same_message(quick, careful), data


def test_seeds_are_accepted():
    for seed in SEEDS:
        assert check_outcome(seed) is not None
    # and the quick path takes the plain ones, so the property above is not vacuous
    assert sum(parse_quick(seed, False) is not None for seed in SEEDS) >= 3


# --------------------------------------------------------------------------
# stream framer


@st.composite
def stream_and_cuts(draw):
    items = draw(st.lists(st.sampled_from(range(len(SEEDS) + 2)), min_size=1, max_size=6))
    parts = []
    expected = []
    for i in items:
        if i == len(SEEDS):
            parts.append(b"\r\n\r\n")
            expected.append("ping")
        elif i == len(SEEDS) + 1:
            parts.append(b"\r\n")
            expected.append("pong")
        else:
            seed = SEEDS[i]
            msg = parse_message(seed)
            parts.append(msg.serialize())  # always carries Content-Length
            expected.append(msg)
    stream = b"".join(parts)
    cuts = sorted(set(draw(st.lists(st.integers(0, len(stream)), max_size=30))))
    return stream, cuts, expected


@settings(max_examples=200, deadline=None)
@given(stream_and_cuts())
def test_framer_any_chunking(case):
    stream, cuts, expected = case
    framer = StreamFramer()
    got = []
    last = 0
    for cut in cuts + [len(stream)]:
        framer.feed(stream[last:cut])
        last = cut
        event = framer.next_event()
        while event is not None:
            got.append(event)
            event = framer.next_event()
    messages = [e for e in got if not isinstance(e, (KeepAlivePing, KeepAlivePong))]
    assert messages == [e for e in expected if not isinstance(e, str)]
    crlfs = 2 * sum(isinstance(e, KeepAlivePing) for e in got)
    crlfs += sum(isinstance(e, KeepAlivePong) for e in got)
    assert crlfs == 2 * expected.count("ping") + expected.count("pong")
    assert framer.buffered() == 0


@settings(max_examples=150, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=8))
def test_framer_garbage_raises_only_message_error(chunks):
    framer = StreamFramer(max_message=2000)
    for chunk in chunks:
        framer.feed(chunk)
        for _ in range(20):
            try:
                if framer.next_event() is None:
                    break
            except MessageError as err:
                if err.fatal:
                    return
    assert framer.buffered() <= 2000 + 300


# --------------------------------------------------------------------------
# the quick patterns accept nothing the full parsers reject

SPECIAL = list(":;=<>@\"\\., \t[]%?&+-*/_!~'()$#\u00e9")


@st.composite
def _near(draw, alphabet):
    """Text from alphabet, now and then with one character that may break it."""
    text = draw(st.text(alphabet=alphabet, max_size=8))
    if draw(st.booleans()) and draw(st.booleans()):
        pos = draw(st.integers(0, len(text)))
        text = text[:pos] + draw(st.sampled_from(SPECIAL)) + text[pos:]
    return text


@st.composite
def near_valid(draw):
    """Field values close to the plain forms the quick patterns accept."""
    user = draw(_near("abc019.-_"))
    host = draw(st.one_of(_near("abcxyz019.-"), st.builds(lambda t: "[" + t + "]", _near("0f:1.a"))))
    port = draw(st.one_of(st.just(""), st.builds(lambda p: ":" + p, _near("0123456789"))))
    uparams = "".join(draw(st.lists(st.builds(lambda a, b: ";" + a + b, _near("abtr"),
                                              st.one_of(st.just(""),
                                                        st.builds(lambda v: "=" + v,
                                                                  _near("xyz09")))),
                                    max_size=3)))
    uri = "sip" + draw(st.sampled_from(["", "s"])) + ":" + (user + "@" if user else "") + host + port
    hparams = "".join(draw(st.lists(st.builds(lambda a, b: ";" + a + b, _near("tagexpirs"),
                                              st.one_of(st.just(""),
                                                        st.builds(lambda v: "=" + v,
                                                                  _near("09ab")))),
                                    max_size=3)))
    display = draw(st.one_of(st.just(""), st.builds(lambda d: '"' + d + '" ', _near("Al ce")),
                             st.builds(lambda d: d + " ", _near("Bob"))))
    kind = draw(st.integers(0, 4))
    if kind == 0:
        return uri + uparams
    if kind == 1:
        return display + "<" + uri + uparams + ">" + hparams
    if kind == 2:
        return uri + hparams
    if kind == 3:
        transport = draw(st.sampled_from(["UDP", "TCP", "TLS", "udp", "X"]))
        return "SIP/2.0/" + transport + " " + host + port + hparams
    one = display + "<" + uri + uparams + ">" + hparams
    return one + draw(st.sampled_from([", ", ",", " , "])) + one


def _full_accepts(fn, text):
    try:
        fn(text)
        return True
    except SipSyntaxError:
        return False


@settings(max_examples=500, deadline=None)
@given(near_valid())
def test_quick_patterns_are_subsets(text):
    assume(fc.FAST_PATTERNS)
    if fc.QUICK_SIP_URI(text):
        assert _full_accepts(hdr.parse_uri, text), text
    if fc.QUICK_NAME_ADDR(text):
        assert _full_accepts(hdr.parse_name_addr, text), text
    if fc.QUICK_CONTACTS(text):
        assert _full_accepts(hdr.parse_name_addr_list, text), text
        if fc.small_expires(text):
            assert _full_accepts(fc.check_contacts, text), text
    if fc.QUICK_VIA_LIST(text):
        assert _full_accepts(hdr.parse_via_list, text), text


WHITE = st.text(alphabet=" \t", max_size=3)


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(["Via", "v", "From", "to", "Contact", "m", "CSeq", "l", "X-A "]), WHITE,
       st.one_of(near_valid(), st.from_regex("[0-9]{0,11}( [A-Za-z0-9]{0,3}.?)?", fullmatch=True)),
       WHITE)
def test_line_patterns_answer_as_value_patterns(name, before, text, after):
    assume(fc.FAST_PATTERNS)
    line = name + ":" + before + text + after
    value = line[line.find(":") + 1 :].strip(" \t")
    pairs = ((fc.QUICK_VIA_LINE, fc.QUICK_VIA_LIST), (fc.QUICK_NAME_ADDR_LINE, fc.QUICK_NAME_ADDR),
             (fc.QUICK_CONTACTS_LINE, fc.QUICK_CONTACTS))
    for line_pattern, value_pattern in pairs:
        assert bool(line_pattern(line)) == bool(value_pattern(value)), (line, line_pattern)
    # CSeq: what the careful path takes without its full parser
    number, space, method = value.partition(" ")
    plain = bool(space) and is_digits(number) and len(number) < 10 and hdr.is_token(method)
    match = fc.QUICK_CSEQ_LINE(line)
    assert bool(match) == plain, line
    if match:
        assert match.group(1) == method
    match = fc.QUICK_NUMBER_LINE(line)
    assert bool(match) == (is_digits(value) and len(value) < 10), line
    if match:
        assert match.group(1) == value


def test_quick_patterns_match_plain_values():
    # the generators above reach the quick patterns: the properties are not vacuous
    assert fc.FAST_PATTERNS
    assert fc.QUICK_NAME_ADDR('"Al ce" <sip:abc@xyz:5060;tr=x>;tag=09')
    assert fc.QUICK_VIA_LIST("SIP/2.0/UDP xyz:5060;tag=1")
    assert fc.QUICK_SIP_URI("sips:abc@[0f::1]:5061;tr")
    assert fc.QUICK_VIA_LINE("v:  SIP/2.0/UDP xyz:5060;tag=1 \t")
    assert fc.QUICK_CSEQ_LINE("CSeq: 12 INVITE ").group(1) == "INVITE"
    assert fc.QUICK_NUMBER_LINE("l:\t123").group(1) == "123"
    assert not fc.QUICK_NUMBER_LINE("l: 1234567890")
