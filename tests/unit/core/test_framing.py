"""Stream framing: chunks in, whole messages and RFC 5626 keep-alives out."""

from firmware.core.errors import MessageError
from firmware.core.framing import (
    PING,
    PONG,
    KeepAlivePing,
    KeepAlivePong,
    StreamFramer,
)
from firmware.core.parse import parse_message


def _msg(method, body=b"", cseq=1):
    return (b"%s sip:bob@example.com SIP/2.0\r\n"
            b"Via: SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bK%d\r\n"
            b"From: <sip:a@example.com>;tag=1\r\n"
            b"To: <sip:bob@example.com>\r\n"
            b"Call-ID: c1@h\r\n"
            b"CSeq: %d %s\r\n"
            b"Content-Length: %d\r\n"
            b"\r\n" % (method, cseq, cseq, method, len(body))) + body


def _drain(framer):
    out = []
    event = framer.next_event()
    while event is not None:
        out.append(event)
        event = framer.next_event()
    return out


def _kinds(events):
    out = []
    for e in events:
        if isinstance(e, KeepAlivePing):
            out.append("ping")
        elif isinstance(e, KeepAlivePong):
            out.append("pong")
        else:
            out.append(e.method if e.is_request else e.status)
    return out


def test_constants():
    assert PING == b"\r\n\r\n"
    assert PONG == b"\r\n"


def test_one_message_in_one_chunk():
    f = StreamFramer()
    assert f.next_event() is None
    data = _msg(b"INVITE", b"v=0\r\n")
    f.feed(data)
    event = f.next_event()
    assert event == parse_message(data)
    assert event.body == b"v=0\r\n"
    assert f.next_event() is None
    assert f.buffered() == 0


def test_every_chunk_size_gives_the_same_events():
    stream = (PING + _msg(b"INVITE", b"v=0\r\no=x\r\n") + PONG + _msg(b"ACK", cseq=2)
              + _msg(b"BYE", b"\r\n\r\n", cseq=3) + PING)
    for size in (3, 4, 5, 7, 64, 1000):
        f = StreamFramer()
        events = []
        for i in range(0, len(stream), size):
            f.feed(stream[i : i + size])
            events.extend(_drain(f))
        kinds = _kinds(events)
        assert [k for k in kinds if k not in ("ping", "pong")] == ["INVITE", "ACK", "BYE"], size
        # Each CRLF is reported once: as a pong, or as half of a ping. A ping cut
        # exactly between its two CRLFs reads as two pongs (see the next test).
        assert 2 * kinds.count("ping") + kinds.count("pong") == 5, size
        assert [e.body for e in events if not isinstance(e, (KeepAlivePing, KeepAlivePong))][2] \
            == b"\r\n\r\n"
        if size in (5, 64, 1000):  # these never cut a ping in half
            assert kinds == ["ping", "INVITE", "pong", "ACK", "BYE", "ping"], size


def test_ping_split_into_crlf_halves_reads_as_two_pongs():
    # Without a clock a CRLF, pause, CRLF is two pongs: documented behaviour.
    f = StreamFramer()
    f.feed(b"\r\n")
    assert isinstance(f.next_event(), KeepAlivePong)
    f.feed(b"\r\n")
    assert isinstance(f.next_event(), KeepAlivePong)
    f.feed(b"\r\n\r")
    assert f.next_event() is None  # a ping may still be arriving
    f.feed(b"\n")
    assert isinstance(f.next_event(), KeepAlivePing)


def test_pong_directly_before_a_message():
    f = StreamFramer()
    f.feed(PONG + _msg(b"OPTIONS"))
    assert _kinds(_drain(f)) == ["pong", "OPTIONS"]


def test_missing_content_length_is_fatal():
    f = StreamFramer()
    f.feed(_msg(b"OPTIONS").replace(b"Content-Length: 0\r\n", b""))
    for _ in range(2):
        try:
            f.next_event()
        except MessageError as err:
            assert err.fatal
            assert err.status == 400
            assert "Content-Length" in err.reason
        else:
            raise AssertionError("no error")
    f.feed(_msg(b"OPTIONS"))  # the stream stays unusable
    try:
        f.next_event()
    except MessageError as err:
        assert err.fatal
    else:
        raise AssertionError("recovered")


def test_bad_content_length_values_are_fatal():
    for value in (b"-1", b"abc", b"1 2", b""):
        f = StreamFramer()
        f.feed(_msg(b"OPTIONS").replace(b"Content-Length: 0", b"Content-Length: " + value))
        try:
            f.next_event()
        except MessageError as err:
            assert err.fatal and err.status == 400, value
        else:
            raise AssertionError(value)
    f = StreamFramer()
    f.feed(_msg(b"OPTIONS").replace(b"Content-Length: 0\r\n", b"l: 0\r\nContent-Length: 0\r\n"))
    try:
        f.next_event()
    except MessageError as err:
        assert err.fatal and "duplicate" in err.reason
    else:
        raise AssertionError("duplicate Content-Length accepted")


def test_compact_and_folded_content_length():
    body = b"hello"
    data = _msg(b"MESSAGE", body).replace(b"Content-Length: 5", b"l:\r\n 5")
    f = StreamFramer()
    f.feed(data + _msg(b"OPTIONS", cseq=2))
    events = _drain(f)
    assert _kinds(events) == ["MESSAGE", "OPTIONS"]
    assert events[0].body == body


def test_bounded_header_section():
    f = StreamFramer(max_message=1000)
    f.feed(b"INVITE sip:a@b SIP/2.0\r\nX: " + b"a" * 600)
    assert f.next_event() is None
    f.feed(b"a" * 600)
    try:
        f.next_event()
    except MessageError as err:
        assert err.fatal and err.status == 413
    else:
        raise AssertionError("unbounded header accepted")
    assert f.buffered() == 0


def test_bounded_body():
    f = StreamFramer(max_message=1000)
    f.feed(_msg(b"MESSAGE").replace(b"Content-Length: 0", b"Content-Length: 5000"))
    try:
        f.next_event()
    except MessageError as err:
        assert err.fatal and err.status == 413
    else:
        raise AssertionError("oversized body accepted")


def test_malformed_but_framed_message_is_skipped():
    bad = _msg(b"OPTIONS").replace(b"To: <sip:bob@example.com>", b'To: "broken <sip:b@h>')
    f = StreamFramer()
    f.feed(bad + _msg(b"BYE", cseq=2))
    try:
        f.next_event()
    except MessageError as err:
        assert not err.fatal
        assert err.status == 400 and "To" in err.reason
        assert err.response().status == 400
    else:
        raise AssertionError("malformed message accepted")
    assert _kinds(_drain(f)) == ["BYE"]


def test_stray_line_ends_between_messages_are_skipped():
    f = StreamFramer()
    f.feed(b"\n" + _msg(b"OPTIONS") + b"\r\r" + _msg(b"BYE", cseq=2))
    kinds = _kinds(_drain(f))
    assert kinds == ["OPTIONS", "BYE"]


def test_responses_are_framed_too():
    resp = (b"SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\n"
            b"To: <sip:c@d>;tag=2\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContent-Length: 3\r\n\r\nabc")
    f = StreamFramer()
    for i in range(len(resp)):
        f.feed(resp[i : i + 1])
        if i < len(resp) - 1:
            assert f.next_event() is None
    event = f.next_event()
    assert event.status == 200 and event.body == b"abc"


def test_feeding_text_is_a_fatal_error_not_a_crash():
    f = StreamFramer()
    f.feed("INVITE as text")
    try:
        f.next_event()
    except MessageError as err:
        assert err.fatal
    else:
        raise AssertionError("text accepted")
