"""Messages: Headers, Request/Response, parse_message, make_response, errors, wire text."""

from firmware.core.errors import MessageError
from firmware.core.headers import Via
from firmware.core.message import (
    MAX_HEADER_COUNT,
    MAX_HEADER_LINE,
    MAX_MESSAGE_SIZE,
    Headers,
    Request,
    Response,
    make_response,
)
from firmware.core.parse import parse_message
from firmware.core.wiretext import decode_text, encode_text

INVITE = (
    b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/TLS client.atlanta.example.com:5061;branch=z9hG4bK74bf9;alias\r\n"
    b"Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bK1, SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK2\r\n"
    b"Max-Forwards: 70\r\n"
    b'From: "Alice" <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n'
    b"To: Bob <sip:bob@biloxi.example.com>\r\n"
    b"Call-ID: 3848276298220188511@atlanta.example.com\r\n"
    b"CSeq: 2 INVITE\r\n"
    b"Contact: <sip:alice@client.atlanta.example.com;transport=tls>\r\n"
    b"WWW-Authenticate: Digest realm=\"atlanta.example.com\", nonce=\"84a4cc6f\", qop=\"auth\"\r\n"
    b"Allow: INVITE, ACK,BYE\r\n"
    b"Allow: CANCEL\r\n"
    b"X-Odd:   kept ;;,, as is  \r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: 10\r\n"
    b"\r\n"
    b"v=0\r\no=x\r\n"
)

RESPONSE_200 = (
    b"SIP/2.0 200 OK\r\n"
    b"v: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx\r\n"
    b"f: <sip:a@example.com>;tag=1\r\n"
    b"t: <sip:b@example.com>;tag=2\r\n"
    b"i: abc@h\r\n"
    b"CSeq: 7 BYE\r\n"
    b"l: 0\r\n"
    b"\r\n"
)


def _error(data, stream=False):
    try:
        parse_message(data, stream)
    except MessageError as err:
        return err
    raise AssertionError("accepted: %r" % data[:60])


def _request(extra=b"", start=b"OPTIONS sip:bob@example.com SIP/2.0", body=b"", length=True):
    head = (start + b"\r\n"
            b"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKabc\r\n"
            b"From: <sip:a@example.com>;tag=1\r\n"
            b"To: <sip:bob@example.com>\r\n"
            b"Call-ID: c1@h\r\n"
            b"CSeq: 1 " + start.split(b" ")[0] + b"\r\n" + extra)
    if length:
        head += b"Content-Length: %d\r\n" % len(body)
    return head + b"\r\n" + body


# --------------------------------------------------------------------------
# parsing well-formed messages


def test_parse_request_and_accessors():
    m = parse_message(INVITE)
    assert m.is_request
    assert (m.method, m.uri, m.version) == ("INVITE", "sip:bob@biloxi.example.com", "SIP/2.0")
    assert m.body == b"v=0\r\no=x\r\n"
    assert m.call_id() == "3848276298220188511@atlanta.example.com"
    assert m.cseq() == (2, "INVITE")
    vias = m.vias()
    assert [v.branch for v in vias] == ["z9hG4bK74bf9", "z9hG4bK1", "z9hG4bK2"]
    top = m.top_via()
    assert (top.transport, top.host, top.port, top.alias) == ("TLS", "client.atlanta.example.com",
                                                              5061, True)
    assert m.from_addr().tag == "9fxced76sl"
    assert m.from_addr().display == "Alice"
    assert m.to_addr().tag is None
    assert m.to_addr().display == "Bob"
    contacts = m.contacts()
    assert len(contacts) == 1 and contacts[0].uri.transport == "tls"
    assert m.request_uri().user == "bob"


def test_parse_response_and_compact_names():
    m = parse_message(RESPONSE_200)
    assert not m.is_request
    assert (m.status, m.reason) == (200, "OK")
    assert m.headers.get("Via") == "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx"
    assert m.headers.get("Call-ID") == m.headers.get("i") == "abc@h"
    assert m.top_via().branch == "z9hG4bKx"
    assert m.to_addr().tag == "2"
    assert m.contacts() == []
    assert m.body == b""


def test_unknown_headers_kept_exactly_and_in_order():
    m = parse_message(INVITE)
    names = [name for name, _ in m.headers]
    assert names == ["Via", "Via", "Max-Forwards", "From", "To", "Call-ID", "CSeq", "Contact",
                     "WWW-Authenticate", "Allow", "Allow", "X-Odd", "Content-Type",
                     "Content-Length"]
    assert m.headers.get("x-odd") == "kept ;;,, as is"
    out = m.serialize()
    assert b"\r\nX-Odd:   kept ;;,, as is  \r\n" in out  # the line as received


def test_get_all_splits_list_headers_only():
    m = parse_message(INVITE)
    h = m.headers
    assert h.get_all("Allow") == ["INVITE", "ACK", "BYE", "CANCEL"]
    assert len(h.get_all("v")) == 3
    auth = h.get_all("WWW-Authenticate")
    assert auth == ['Digest realm="atlanta.example.com", nonce="84a4cc6f", qop="auth"']
    assert h.values("Via")[1] == ("SIP/2.0/UDP proxy.example.com;branch=z9hG4bK1, "
                                  "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK2")
    assert h.get_all("X-Missing") == []
    assert h.get("X-Missing", "d") == "d"


def test_folding_and_lws_around_colon():
    data = (b"OPTIONS sip:bob@example.com SIP/2.0\r\n"
            b"Via  : SIP/2.0/UDP\r\n 192.0.2.1;branch=z9hG4bKabc\r\n"
            b"From:\r\n\t<sip:a@example.com>\r\n  ;tag=1\r\n"
            b"TO :<sip:bob@example.com>\r\n"
            b"Call-ID: c1@h\r\n"
            b"cseq: 0001\r\n OPTIONS\r\n"
            b"Subject:\r\n"
            b"NewFangledHeader:   newfangled value\r\n continued newfangled value\r\n"
            b"\r\n")
    m = parse_message(data)
    assert m.headers.get("Via") == "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKabc"
    assert m.from_addr().tag == "1"
    assert m.cseq() == (1, "OPTIONS")
    assert m.headers.get("subject") == ""
    assert m.headers.get("NewFangledHeader") == "newfangled value continued newfangled value"
    assert [n for n, _ in m.headers][2] == "TO"


def test_bare_lf_line_ends_are_accepted():
    data = _request(body=b"hello").replace(b"\r\n", b"\n")
    m = parse_message(data)
    assert m.body == b"hello"
    assert m.call_id() == "c1@h"


def test_leading_crlf_is_ignored():
    m = parse_message(b"\r\n\r\n" + _request())
    assert m.method == "OPTIONS"


def test_datagram_body_rules():
    # no Content-Length on a datagram: the body runs to the end of the packet
    m = parse_message(_request(body=b"rest of packet", length=False))
    assert m.body == b"rest of packet"
    # Content-Length shorter than the packet: the rest is ignored
    m = parse_message(_request(body=b"abc") + b"INVITE junk")
    assert m.body == b"abc"
    # Content-Length larger than the packet
    data = _request(body=b"abc").replace(b"Content-Length: 3", b"Content-Length: 9999")
    err = _error(data)
    assert err.status == 400
    assert "Content-Length" in err.reason


def test_stream_needs_content_length():
    err = _error(_request(body=b"", length=False), stream=True)
    assert err.status == 400
    assert "Content-Length" in err.reason
    assert parse_message(_request(body=b"xy"), stream=True).body == b"xy"


def test_datagram_without_empty_line():
    data = _request()[:-2]  # ends right after the last header line
    assert parse_message(data).method == "OPTIONS"
    err = _error(data[:-2])  # cut inside a line
    assert err.status == 400


def test_non_utf8_header_bytes_survive():
    data = _request(extra=b"X-Bin: \xff\x00\xc3\xa9\xed\xa0\x80\xef\x9e\x80 end\r\n")
    m = parse_message(data)
    value = m.headers.get("X-Bin")
    assert value == "\uf7ff\x00\u00e9\uf7ed\uf7a0\uf780\uf7ef\uf79e\uf780 end"
    assert b"X-Bin: \xff\x00\xc3\xa9\xed\xa0\x80\xef\x9e\x80 end\r\n" in m.serialize()
    assert parse_message(m.serialize()) == m


def test_decode_encode_text():
    assert decode_text(b"plain") == "plain"
    assert decode_text(b"caf\xc3\xa9") == "caf\u00e9"
    assert decode_text(b"\xc0\x80") == "\uf7c0\uf780"  # overlong NUL is not UTF-8
    assert decode_text(b"\xf4\x90\x80\x80") == "\uf7f4\uf790\uf780\uf780"  # beyond U+10FFFF
    assert decode_text(b"\xe2\x82") == "\uf7e2\uf782"  # truncated sequence
    assert decode_text(b"\xf0\x9f\x98\x80") == "\U0001f600"
    samples = [bytes(range(256)), b"\xef\x9f\xbf\xef\x9e", b"a\xe2\x82\xacb\x80", b""]
    for data in samples:
        assert encode_text(decode_text(data)) == data


# --------------------------------------------------------------------------
# building and serialising


def _built():
    return Request("INVITE", "sip:bob@example.com", [
        ("Via", "SIP/2.0/TLS 10.0.0.1:5061;branch=z9hG4bKabc;alias"),
        ("Max-Forwards", "70"),
        ("From", '"Alice" <sip:alice@example.com>;tag=1234'),
        ("To", "<sip:bob@example.com>"),
        ("Call-ID", "abc@host"),
        ("CSeq", "1 INVITE"),
        ("Contact", '<sip:alice@10.0.0.1:5061;transport=tls>;+sip.instance="<urn:uuid:1>"'),
        ("Content-Type", "application/sdp"),
    ], b"v=0\r\n")


def test_serialize_is_deterministic_and_sets_content_length():
    r = _built()
    data = r.serialize()
    assert data == r.serialize()
    assert data.startswith(b"INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/TLS ")
    assert data.endswith(b"\r\nContent-Type: application/sdp\r\nContent-Length: 5\r\n\r\nv=0\r\n")
    r.headers.add("Content-Length", "99")
    r.headers.add("l", "12")
    data = r.serialize()
    assert data.count(b"Content-Length: 5\r\n") == 1
    assert b"99" not in data and b"l: " not in data


def test_round_trip_of_built_messages():
    r = _built()
    back = parse_message(r.serialize())
    assert back == r
    assert back.serialize() == r.serialize()
    resp = make_response(back, 200, to_tag="xyz", headers=[("Contact", "<sip:bob@10.0.0.2>")],
                         body=b"v=0\r\n")
    again = parse_message(resp.serialize())
    assert again == resp
    assert again.to_addr().tag == "xyz"
    assert again.body == b"v=0\r\n"


def test_received_message_serialises_as_it_came_until_changed():
    data = _request(extra=b"Subject: hi\r\n", body=b"abc")
    m = parse_message(data)
    assert m.serialize() == data
    assert m.copy().serialize() == data
    # every kind of change shows in the output
    changed = m.copy()
    changed.headers.add("X-New", "1")
    assert changed.serialize() == data.replace(b"Content-Length: 3\r\n",
                                               b"Content-Length: 3\r\nX-New: 1\r\n")
    changed = m.copy()
    changed.headers.set("Subject", "ho")
    assert changed.serialize() == data.replace(b"Subject: hi", b"Subject: ho")
    changed = m.copy()
    changed.headers.remove("Subject")
    assert changed.serialize() == data.replace(b"Subject: hi\r\n", b"")
    changed = m.copy()
    changed.headers.insert_first("Via", "SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKtop")
    assert changed.serialize().count(b"\r\nVia: ") == 2
    changed = m.copy()
    changed.body = b"xyz"  # same length, other bytes
    assert changed.serialize() == data[:-3] + b"xyz"
    changed.body = b"longer"
    assert changed.serialize().endswith(b"Content-Length: 6\r\n\r\nlonger")
    changed = m.copy()
    changed.uri = "sip:carol@example.com"
    assert changed.serialize() == data.replace(b"sip:bob@example.com SIP", b"sip:carol@example.com SIP")
    changed = m.copy()
    changed.method = "INFO"
    assert changed.serialize().startswith(b"INFO sip:bob@example.com SIP/2.0\r\n")
    response = parse_message(RESPONSE_200)
    assert response.serialize() == RESPONSE_200
    response.reason = "Fine"
    assert response.serialize() == RESPONSE_200.replace(b"200 OK", b"200 Fine")


def test_unusual_forms_serialise_canonically():
    # what serialize() writes differently from the wire is never taken from the wire
    for length_line in (b"Content-Length : 3", b"Content-Length:3", b"Content-Length: 03",
                        b"Content-Length: 3 ", b"content-length:\t3"):
        data = _request(body=b"abc").replace(b"Content-Length: 3", length_line)
        name = length_line[: length_line.find(b":")].rstrip(b" \t")
        expected = data.replace(length_line, name + b": 3")
        assert parse_message(data).serialize() == expected, length_line
    data = _request(start=b"OPTIONS  sip:bob@example.com SIP/2.0")
    assert parse_message(data).serialize() == _request()
    data = _request(body=b"no length", length=False)
    assert parse_message(data).serialize() == _request(body=b"no length")
    assert parse_message(b"\r\n" + _request()).serialize() == _request()
    assert parse_message(_request().replace(b"\r\n", b"\n")).serialize() == _request()
    data = RESPONSE_200.replace(b"200 OK", b"200")
    assert parse_message(data).serialize() == RESPONSE_200.replace(b"200 OK", b"200 ")


def test_response_default_reason():
    assert Response(180).reason == "Ringing"
    assert Response(486).reason == "Busy Here"
    assert Response(499).reason == "Client Error"
    assert Response(200, "Fine").serialize().startswith(b"SIP/2.0 200 Fine\r\n")
    assert Response(100, "").serialize().startswith(b"SIP/2.0 100 \r\n")


def test_body_may_be_text():
    assert Request("MESSAGE", "sip:a@b", body="h\u00e9").body == b"h\xc3\xa9"


def test_make_response_copies_rfc3261_headers():
    req = parse_message(INVITE)
    resp = make_response(req, 180, to_tag="t1")
    assert resp.status == 180 and resp.reason == "Ringing"
    assert resp.headers.values("Via") == req.headers.values("Via")
    assert resp.headers.get("From") == req.headers.get("From")
    assert resp.headers.get("To") == "Bob <sip:bob@biloxi.example.com>;tag=t1"
    assert resp.headers.get("Call-ID") == req.call_id()
    assert resp.cseq() == (2, "INVITE")
    assert "Contact" not in resp.headers
    assert "Allow" not in resp.headers
    # an existing To tag is kept
    tagged = make_response(parse_message(RESPONSE_200.replace(b"SIP/2.0 200 OK", b"BYE sip:b@h SIP/2.0")),
                           200, to_tag="other")
    assert tagged.to_addr().tag == "2"
    assert make_response(req, 100).to_addr().tag is None


# --------------------------------------------------------------------------
# Headers API


def test_headers_api():
    h = Headers([("Via", "SIP/2.0/UDP a;branch=z9hG4bK1"), ("To", "<sip:x@y>"), ("v", "SIP/2.0/UDP b")])
    assert len(h) == 3
    assert "VIA" in h and "t" in h and "From" not in h
    h.insert_first("Via", "SIP/2.0/UDP top;branch=z9hG4bK0")
    assert h.get("v") == "SIP/2.0/UDP top;branch=z9hG4bK0"
    assert list(h)[0] == ("Via", "SIP/2.0/UDP top;branch=z9hG4bK0")
    h.insert_first("Route", "<sip:p;lr>")
    assert list(h)[0][0] == "Route"
    h.set("Via", "SIP/2.0/UDP only")
    assert h.values("Via") == ["SIP/2.0/UDP only"]
    assert [n for n, _ in h] == ["Route", "Via", "To"]
    h.set("Call-ID", "new")
    assert list(h)[-1] == ("Call-ID", "new")
    assert h.remove("to") == 1
    assert h.remove("to") == 0
    c = h.copy()
    c.add("X", "1")
    assert "X" not in h and "X" in c
    h.add("Via", Via("UDP", "obj", 5060))
    assert h.values("Via")[-1] == "SIP/2.0/UDP obj:5060"
    h.add("Expires", 30)
    assert h.get("Expires") == "30"
    try:
        h.add("X-Evil", "a\r\nVia: injected")
    except ValueError:
        pass
    else:
        raise AssertionError("CR LF accepted in a header value")


def test_accessors_return_copies_and_follow_header_changes():
    m = parse_message(INVITE)
    top = m.top_via()
    top.set_param("received", "192.0.2.9")
    assert m.top_via().received is None
    m.headers.insert_first("Via", "SIP/2.0/UDP new.example.com;branch=z9hG4bKnew")
    assert m.top_via().host == "new.example.com"
    m.headers.set("CSeq", "3 INVITE")
    assert m.cseq() == (3, "INVITE")
    m.headers.set("To", "<sip:bob@biloxi.example.com>;tag=zz")
    assert m.to_addr().tag == "zz"


def test_built_message_without_headers():
    r = Request("OPTIONS", "sip:a@b")
    assert r.call_id() is None and r.cseq() is None and r.top_via() is None
    assert r.vias() == [] and r.contacts() == [] and r.from_addr() is None


def test_contact_star():
    m = parse_message(_request(extra=b"Contact: *\r\nExpires: 0\r\n",
                               start=b"REGISTER sip:example.com SIP/2.0"))
    assert m.contacts() == ["*"]
    err = _error(_request(extra=b"Contact: *, <sip:a@b>\r\n"))
    assert err.status == 400


# --------------------------------------------------------------------------
# errors


def test_bad_version_is_505():
    err = _error(_request(start=b"OPTIONS sip:bob@example.com SIP/7.0"))
    assert err.status == 505
    assert err.reason == "Version Not Supported"
    resp = err.response()
    assert resp.status == 505
    assert resp.headers.get("Call-ID") == "c1@h"
    assert _error(_request(start=b"OPTIONS sip:bob@example.com HTTP/1.1")).status == 400


def test_unsupported_scheme_is_416():
    err = _error(_request(start=b"OPTIONS http://example.com/ SIP/2.0"))
    assert err.status == 416
    assert err.reason == "Unsupported URI Scheme"
    assert err.request.uri == "http://example.com/"
    assert parse_message(_request(start=b"OPTIONS tel:+12015550123 SIP/2.0")).method == "OPTIONS"


def test_malformed_headers_name_the_header():
    cases = [
        (b"To: <sip:bob@example.com>\r\n", b'To: "unterminated <sip:bob@example.com>\r\n', "To"),
        (b"From: <sip:a@example.com>;tag=1\r\n", b"From: Bell, A <sip:a@b>\r\n", "From"),
        (b"CSeq: 1 OPTIONS\r\n", b"CSeq: 99999999999 OPTIONS\r\n", "CSeq"),
        (b"CSeq: 1 OPTIONS\r\n", b"CSeq: 1 INVITE\r\n", "CSeq method"),
        (b"Call-ID: c1@h\r\n", b"Call-ID: c1 @h\r\n", "Call-ID"),
        (b"Call-ID: c1@h\r\n", b"", "missing Call-ID"),
        (b"Call-ID: c1@h\r\n", b"Call-ID: c1@h\r\ni: c2@h\r\n", "duplicate Call-ID"),
    ]
    for old, new, word in cases:
        err = _error(_request().replace(old, new))
        assert err.status == 400, word
        assert err.reason.startswith("Bad Request - "), err.reason
        assert word in err.reason, (word, err.reason)
        assert err.response().status == 400
        assert err.response().reason == err.reason
    for extra, word in ((b"Max-Forwards: 256\r\n", "Max-Forwards"),
                        (b"Expires: 4294967296\r\n", "Expires"),
                        (b"Contact: <sip:a@b>;expires=-1\r\n", "Contact"),
                        (b"Content-Length: -5\r\n", "Content-Length"),
                        (b"Bad Name: x\r\n", "header name"),
                        (b"no colon here\r\n", "header line")):
        err = _error(_request(extra=extra))
        assert err.status == 400 and word in err.reason, (word, err.reason)


def test_errors_in_responses_are_never_answered():
    err = _error(RESPONSE_200.replace(b"CSeq: 7 BYE", b"CSeq: x BYE"))
    assert err.status is None and err.response() is None
    assert "CSeq" in err.reason
    assert _error(b"SIP/2.0 4294967301 better not break\r\n\r\n").status is None
    # a status code has three digits: shorter ones are malformed, whatever follows
    for start in (b"SIP/2.0 20", b"SIP/2.0 20 OK", b"SIP/2.0 2 OK", b"SIP/2.0 099 Odd"):
        err = _error(RESPONSE_200.replace(b"SIP/2.0 200 OK", start))
        assert err.status is None and "status line" in err.reason, start


def test_request_without_usable_via_is_not_answered():
    err = _error(_request().replace(b"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKabc\r\n", b""))
    assert err.status is None and err.request is None and err.response() is None
    err = _error(_request().replace(b"SIP/2.0/UDP 192.0.2.1:5060", b"SIP/2.0/UDP 2001:db8::1:5060"))
    assert err.status is None


def test_request_with_readable_via_is_answered_even_without_from():
    err = _error(_request().replace(b"From: <sip:a@example.com>;tag=1\r\n", b""))
    assert err.status == 400 and "From" in err.reason
    resp = err.response(to_tag="abc")
    assert resp.headers.get("Via") == "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKabc"
    assert resp.headers.get("From") is None
    assert resp.to_addr().tag == "abc"


def test_limits():
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(MAX_HEADER_COUNT))
    err = _error(_request(extra=many))
    assert err.status == 413 and "headers" in err.reason
    err = _error(_request(extra=b"X-Long: " + b"a" * MAX_HEADER_LINE + b"\r\n"))
    assert err.status == 413
    big = _request(body=b"x" * MAX_MESSAGE_SIZE)
    err = _error(big)
    assert err.status == 413
    assert err.response().status == 413
    err = _error(_request(extra=b"Content-Length: 70000\r\n", length=False))
    assert err.status == 413


def test_garbage_never_raises_anything_else():
    samples = [b"", b"\r\n", b"\x00", b"SIP/2.0", b"INVITE", b"\xff" * 40, b"a:b\r\n\r\n",
               b"INVITE sip:a@b SIP/2.0\r\n\r\n", b" \r\n\r\n", b"\n\n\n", b"SIP/2.0 200\r\n\r\n",
               INVITE[:50], INVITE[:-5], INVITE.replace(b":", b""), INVITE.replace(b"<", b"")]
    for data in samples:
        try:
            parse_message(data)
        except MessageError:
            pass
    try:
        parse_message("text, not bytes")
    except MessageError as err:
        assert err.status is None
    else:
        raise AssertionError("text accepted")


def test_request_line_tolerances():
    m = parse_message(_request(start=b"OPTIONS  sip:bob@example.com   SIP/2.0  "))
    assert (m.method, m.uri, m.version) == ("OPTIONS", "sip:bob@example.com", "SIP/2.0")
    assert _error(_request(start=b"OPTIONS sip:bob@example.com; lr SIP/2.0")).status == 400
    assert _error(_request(start=b"OPTIONS <sip:bob@example.com> SIP/2.0")).status == 400
    assert _error(_request(start=b"OPT@ONS sip:bob@example.com SIP/2.0")).status == 400
