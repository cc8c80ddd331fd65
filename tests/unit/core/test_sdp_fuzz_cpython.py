"""Whatever arrives as SDP, the parser and the offer/answer code raise SdpError
(400 or 488) or succeed; no other exception escapes."""

from hypothesis import given, settings
from hypothesis import strategies as st

from firmware.core.offeranswer import MediaSession
from firmware.core.sdp import SdpError, parse_sdp

LINES = [
    "v=0", "v=1", "o=- 1 1 IN IP4 192.0.2.10", "o=a b c d e f", "o=- 1 99 IN IP6 ::1",
    "s=-", "s=", "c=IN IP4 192.0.2.10", "c=IN IP6 2001:db8::1", "c=IN IP4 0.0.0.0",
    "c=IN IP4 224.2.1.1/127/3", "c=IN", "t=0 0", "t=x y", "m=audio 4000 RTP/AVP 0 8 101",
    "m=audio 0 RTP/AVP 0", "m=audio 4000/2 RTP/AVP 18", "m=video 5000 RTP/AVP 31",
    "m=image 6000 udptl t38", "m=audio 4000 RTP/SAVP 0", "m=audio 99999 RTP/AVP 0",
    "m=audio 4000 RTP/AVP 300", "a=rtpmap:0 PCMU/8000", "a=rtpmap:8 pcma/8000/1",
    "a=rtpmap:101 telephone-event/8000", "a=rtpmap:97 x", "a=rtpmap:", "a=fmtp:101 0-16",
    "a=fmtp:", "a=ptime:20", "a=ptime:20.5", "a=ptime:", "a=sendonly", "a=recvonly",
    "a=inactive", "a=sendrecv", "a=SENDONLY", "a=x-foo:bar", "b=AS:64", "i=info", "z=",
    "", "=", "garbage",
]


def build(lines, ending):
    return ending.join(lines).encode("utf-8", "surrogatepass")


def exercise(data):
    try:
        parse_sdp(data)
    except SdpError as exc:
        assert exc.status == 400
    media = MediaSession("192.0.2.1", 40000, 1)
    try:
        media.receive_offer(data)
    except SdpError as exc:
        assert exc.status in (400, 488)
    media.create_offer()
    try:
        media.receive_answer(data)
    except SdpError as exc:
        assert exc.status in (400, 488)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes(data):
    exercise(data)


@settings(max_examples=600, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(LINES), st.text(max_size=30)), max_size=25),
       st.sampled_from(["\r\n", "\n", "\r"]))
def test_line_soup(lines, ending):
    exercise(build(lines, ending))


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(LINES), max_size=20), st.integers(0, 400), st.binary(max_size=4))
def test_valid_prefix_with_corruption(lines, position, junk):
    head = ["v=0", "o=- 1 1 IN IP4 192.0.2.10", "s=-", "c=IN IP4 192.0.2.10", "t=0 0"]
    data = build(head + lines, "\r\n")
    position = min(position, len(data))
    exercise(data[:position] + junk + data[position:])
