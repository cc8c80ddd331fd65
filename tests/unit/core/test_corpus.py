"""Conformance: every verdict in the shared SIP corpora (RFC 4475, RFC 5118, real traffic).

The corpus lives outside the project, at ../shared/corpus relative to the project
root (the current directory when tests run); without it these tests print a note
and pass. Runs under CPython and MicroPython alike (plain open, json, os.listdir).

A verdict is ("accept", None) or ("reject", status), where status is the response
the stack should send (None: send nothing). Expectations come from each
index.json; where the RFC leaves the choice to the implementation, the choice
made for a desk phone is listed in CHOICES with the reason.
"""

import json
import os

from firmware.core.framing import StreamFramer
from firmware.core.errors import MessageError
from firmware.core.parse import parse_message

CORPUS = "../shared/corpus"

# RFC 4475 "may reject" cases and how a robust phone handles them.
CHOICES = {
    # 3.1.2.9 / 3.1.2.10: extra SP inside or after the Request-Line is harmless to a
    # phone, which never forwards the line; be liberal and accept.
    "lwsstart": ("accept", None),
    "trws": ("accept", None),
    # 3.1.2.11: the escaped headers make a syntactically valid SIP URI; a phone has no
    # use for headers in a Request-URI and ignores them.
    "escruri": ("accept", None),
    # 3.1.2.12: the phone never interprets Date, so an odd time zone cannot matter.
    "baddate": ("accept", None),
}
# Notes on verdicts derived from the index (no choice involved):
# - mismatch02 names "501 preferred (400 acceptable)": the message layer cannot know
#   which methods the application implements, so it answers the CSeq mismatch with 400.
# - unkscm / novelsc are "valid" but call for 416: parse_message raises MessageError(416)
#   carrying the parsed request, so the stack answers 416 as RFC 4475 3.3.3 asks.
# - insuf and multi01 call for 400: the top Via is readable, so a 400 can reach the
#   client, and it is sent although From/To/Call-ID are missing or doubled.


def _exists(path):
    try:
        os.listdir(path)
        return True
    except OSError:
        return False


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def _index(folder):
    with open(CORPUS + "/" + folder + "/index.json") as f:
        return json.load(f)


def _verdict(data, stream=False):
    try:
        parse_message(data, stream)
    except MessageError as err:
        return ("reject", err.status)
    return ("accept", None)


def _available():
    if _exists(CORPUS):
        return True
    print("note: %s not found, corpus checks skipped" % CORPUS)
    return False


def _expected_4475(entry):
    name = entry["name"]
    if name in CHOICES:
        return CHOICES[name]
    response = entry["expected_response"] or ""
    if entry["valid"]:
        if response.startswith("416"):
            return ("reject", 416)
        return ("accept", None)
    if "silently" in response:
        return ("reject", None)  # a response message: dropped, never answered
    for code in (505, 400):
        if str(code) in response:
            return ("reject", code)
    raise AssertionError("no expectation derivable for " + name)


def _check_all(pairs):
    """pairs: (label, data, expected verdict); returns the mismatches."""
    bad = []
    for label, data, expected in pairs:
        got = _verdict(data)
        if got != expected:
            bad.append((label, expected, got))
    return bad


def test_rfc4475_verdicts():
    if not _available():
        return
    index = _index("rfc4475")
    pairs = []
    for entry in index["messages"]:
        pairs.append((entry["name"], _read(CORPUS + "/rfc4475/" + entry["file"]),
                      _expected_4475(entry)))
    assert len(pairs) == index["count"] == 49
    bad = _check_all(pairs)
    print("rfc4475: %d/%d verdicts agree" % (len(pairs) - len(bad), len(pairs)))
    assert not bad, bad
    # extra/test.sip: no SIP-Version and a header line without a colon (invalid).
    assert _verdict(_read(CORPUS + "/rfc4475/" + index["extra"]["file"]))[0] == "reject"


def test_rfc5118_verdicts():
    if not _available():
        return
    index = _index("rfc5118")
    pairs = []
    for entry in index["messages"]:
        expected = entry["expected"]
        if expected.startswith("reject"):
            verdict = ("reject", int(expected.split("(")[1][:3]))
        else:
            verdict = ("accept", None)
        pairs.append(("wire/" + entry["name"], _read(CORPUS + "/rfc5118/" + entry["wire_file"]),
                      verdict))
        # The archive bytes have bare-LF line ends (accepted) and two of them a
        # Content-Length larger than their body, which on a datagram is a 400.
        if entry["archive_content_length"] > entry["archive_body_len"]:
            verdict = ("reject", 400)
        pairs.append((entry["name"], _read(CORPUS + "/rfc5118/" + entry["file"]), verdict))
    assert len(pairs) == 2 * index["count"] == 24
    bad = _check_all(pairs)
    print("rfc5118: %d/%d verdicts agree" % (len(pairs) - len(bad), len(pairs)))
    assert not bad, bad


def test_real_traffic_accepted_and_quirks_rejected():
    if not _available():
        return
    index = _index("valid")
    pairs = []
    quirks = 0
    for entry in index["messages"]:
        if entry["expected"] == "accept":
            verdict = ("accept", None)
        else:
            # Unbracketed IPv6 literals: rejected, as RFC 5118 4.2 requires. No answer
            # is possible when the Via sent-by is such a literal too (or for a response).
            assert entry["file"].startswith("quirks/")
            verdict = ("reject", None)
            quirks += 1
        pairs.append((entry["file"], _read(CORPUS + "/valid/" + entry["file"]), verdict))
    assert len(pairs) == index["count"] == 59
    assert quirks == 3
    bad = _check_all(pairs)
    print("valid: %d/%d verdicts agree" % (len(pairs) - len(bad), len(pairs)))
    assert not bad, bad


def test_accepted_messages_round_trip():
    if not _available():
        return
    count = 0
    for folder in ("rfc4475", "rfc5118/wire", "valid"):
        for name in sorted(os.listdir(CORPUS + "/" + folder)):
            if not name.endswith(".sip"):
                continue
            try:
                msg = parse_message(_read(CORPUS + "/" + folder + "/" + name))
            except MessageError:
                continue
            again = parse_message(msg.serialize())
            assert again == msg, folder + "/" + name
            assert again.serialize() == msg.serialize(), folder + "/" + name
            count += 1
    assert count > 90


def test_details_the_rfcs_single_out():
    if not _available():
        return
    base = CORPUS + "/rfc4475/"
    escnull = parse_message(_read(base + "escnull.sip"))
    users = [c.uri.user for c in escnull.contacts()]
    assert users == ["%00", "%00%00"]  # two distinct bindings, nothing truncated
    esc02 = parse_message(_read(base + "esc02.sip"))
    assert esc02.method == "RE%47IST%45R"
    assert len(esc02.contacts()) == 2  # C%6Fntact is another header
    assert esc02.headers.get("C%6Fntact") == "<sip:alias2@host2.example.com>"
    dblreq = parse_message(_read(base + "dblreq.sip"))
    assert dblreq.method == "REGISTER" and dblreq.body == b""
    cparam01 = parse_message(_read(base + "cparam01.sip")).contacts()[0]
    assert cparam01.uri.params == [] and cparam01.has_param("unknownparam")
    cparam02 = parse_message(_read(base + "cparam02.sip")).contacts()[0]
    assert cparam02.uri.has_param("unknownparam") and cparam02.params == []
    regescrt = parse_message(_read(base + "regescrt.sip")).contacts()[0]
    assert regescrt.uri.headers == [["Route", "%3Csip:sip.example.com%3E"]]
    inv2543 = parse_message(_read(base + "inv2543.sip"))
    assert inv2543.top_via().branch is None and len(inv2543.body) > 0
    mpart = parse_message(_read(base + "mpart01.sip"))
    assert len(mpart.body) == int(mpart.headers.get("Content-Length"))
    wsinv = parse_message(_read(base + "wsinv.sip"))
    assert wsinv.cseq() == (9, "INVITE")
    assert [v.branch for v in wsinv.vias()] == ["390skdjuw", "z9hG4bK9ikj8", "z9hG4bK30239"]
    assert wsinv.headers.get("UnknownHeaderWithUnusualValue") == ";;,,;;,;"
    ipv6 = parse_message(_read(CORPUS + "/rfc5118/wire/port-unambiguous.sip"))
    assert ipv6.request_uri().port == 5070
    assert ipv6.request_uri().host == "[2001:db8::10]"


def test_tcp_captures_through_the_stream_framer():
    if not _available():
        return
    index = _index("valid")
    stream = b""
    expected = []
    for entry in index["messages"]:
        if entry["transport"] == "tcp":
            data = _read(CORPUS + "/valid/" + entry["file"])
            stream += data
            expected.append(parse_message(data))
    assert len(expected) >= 8
    framer = StreamFramer()
    got = []
    for i in range(0, len(stream), 97):
        framer.feed(stream[i : i + 97])
        event = framer.next_event()
        while event is not None:
            got.append(event)
            event = framer.next_event()
    assert got == expected
