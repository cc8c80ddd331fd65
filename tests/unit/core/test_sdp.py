"""The SDP grammar: parsing, serializing and the 400 for malformed bodies."""

from firmware.core.sdp import SdpError, parse_sdp
from sdpbodies import AUDIO_OFFER, offer, sdp


def expect_error(data, status):
    try:
        parse_sdp(data)
    except SdpError as exc:
        assert exc.status == status, (data, exc.status, exc.reason)
        assert exc.reason and str(exc) == exc.reason
        return exc
    raise AssertionError("no SdpError for %r" % data)


# -- parsing and serializing ----------------------------------------------------

def test_parse_fields():
    desc = parse_sdp(AUDIO_OFFER)
    assert desc.origin_username == "far"
    assert desc.session_id == "2890844526" and desc.session_version == 2890844526
    assert desc.origin_addr_type == "IP4" and desc.origin_address == "192.0.2.10"
    assert desc.session_name == "call"
    assert desc.connection.address == "192.0.2.10" and desc.connection.addr_type == "IP4"
    [audio] = desc.media
    assert (audio.media, audio.port, audio.proto) == ("audio", 49170, "RTP/AVP")
    assert audio.formats == [8, 18, 0, 96]
    assert audio.rtpmap[0] == (8, "PCMA", 8000, None)
    assert audio.codec(96) == ("telephone-event", 8000, None)
    assert audio.fmtp_for(96) == "0-15"
    assert audio.ptime == 30
    assert audio.direction == "sendrecv"
    assert audio.connection is None and desc.media_connection(audio).address == "192.0.2.10"


def test_static_payload_types_need_no_rtpmap_and_names_ignore_case():
    desc = parse_sdp(offer(["m=audio 5004 RTP/AVP 0 8 3 97", "a=rtpmap:97 pcmu/8000/1"]))
    [audio] = desc.media
    assert audio.codec(0) == ("PCMU", 8000, 1)
    assert audio.codec(8) == ("PCMA", 8000, 1)
    assert audio.codec(97) == ("pcmu", 8000, 1)
    assert audio.codec(120) is None


def test_media_level_connection_and_ipv6():
    desc = parse_sdp(offer(["m=audio 22334 RTP/AVP 0", "c=IN IP4 192.0.2.1",
                            "m=video 6024 RTP/AVP 107", "c=IN IP6 2001:db8::1",
                            "a=rtpmap:107 H263-1998/90000"], connection=None))
    assert desc.connection is None
    audio, video = desc.media
    assert audio.connection.address == "192.0.2.1"
    assert video.connection.addr_type == "IP6" and video.connection.address == "2001:db8::1"
    text = desc.serialize().decode()
    assert "m=audio 22334 RTP/AVP 0\r\nc=IN IP4 192.0.2.1\r\n" in text
    assert "c=IN IP6 2001:db8::1\r\n" in text


def test_bracketed_ipv6_and_multicast_ttl():
    desc = parse_sdp(offer(["m=audio 5004 RTP/AVP 0"], connection="c=IN IP6 [2001:db8::5]"))
    assert desc.connection.address == "2001:db8::5"
    desc = parse_sdp(offer(["m=audio 5004 RTP/AVP 0"], connection="c=IN IP4 224.2.1.1/127"))
    assert desc.connection.address == "224.2.1.1" and desc.connection.suffix == "/127"
    assert b"c=IN IP4 224.2.1.1/127\r\n" in desc.serialize()


def test_unknown_lines_and_attributes_are_kept():
    data = offer(["m=audio 5004/2 RTP/AVP 0", "i=voice", "b=AS:64", "a=x-vendor:42",
                  "a=rtcp-mux", "y=future"],
                 session_extra=["a=tool:phone", "a=sendonly"])
    desc = parse_sdp(data)
    assert desc.attribute("tool") == "phone"
    assert desc.direction == "sendonly"
    [audio] = desc.media
    assert audio.port_count == 2
    assert audio.direction == "sendonly"  # inherited from the session
    assert audio.attribute("x-vendor") == "42"
    assert audio.attribute("rtcp-mux", "absent") is None
    assert ("y", "future") in audio.lines and ("b", "AS:64") in audio.lines
    text = desc.serialize().decode()
    for line in ("a=tool:phone", "m=audio 5004/2 RTP/AVP 0", "i=voice", "b=AS:64",
                 "a=x-vendor:42", "a=rtcp-mux", "y=future"):
        assert line + "\r\n" in text, line
    # RFC 4566 order inside the media section: m i c b k a
    assert text.index("i=voice") < text.index("b=AS:64") < text.index("a=x-vendor")


def test_round_trip_is_stable():
    first = parse_sdp(AUDIO_OFFER).serialize()
    assert first.endswith(b"\r\n") and b"\n\n" not in first
    again = parse_sdp(first)
    assert again.serialize() == first
    assert again.media[0].rtpmap == parse_sdp(AUDIO_OFFER).media[0].rtpmap


def test_bare_lf_and_blank_lines_accepted():
    desc = parse_sdp(b"v=0\no=- 1 1 IN IP4 10.0.0.1\ns=-\nc=IN IP4 10.0.0.1\nt=0 0\n"
                     b"m=audio 4000 RTP/AVP 0\n\n")
    assert desc.media[0].port == 4000


def test_direction_attribute_case_is_forgiven():
    desc = parse_sdp(offer(["m=audio 5004 RTP/AVP 0", "a=SendOnly"]))
    assert desc.media[0].direction == "sendonly"


def test_non_rtp_formats_stay_strings():
    desc = parse_sdp(offer(["m=image 15580 udptl t38", "a=T38FaxVersion:0"]))
    assert desc.media[0].formats == ["t38"]
    assert desc.media[0].attribute("T38FaxVersion") == "0"


def test_malformed_sdp_is_400():
    good = ["v=0", "o=- 1 1 IN IP4 10.0.0.1", "s=-", "c=IN IP4 10.0.0.1", "t=0 0",
            "m=audio 4000 RTP/AVP 0"]
    cases = [
        b"",
        b"\r\n\r\n",
        b"garbage",
        b"\xff\xfe\x00",
        sdp("o=- 1 1 IN IP4 10.0.0.1", "v=0"),
        sdp("v=1", *good[1:]),
        sdp("v=0", "s=-", "t=0 0"),
        sdp("v=0", "o=- 1 IN IP4 10.0.0.1", *good[2:]),
        sdp("v=0", "o=- 1 x IN IP4 10.0.0.1", *good[2:]),
        sdp("v=0", "o=- 1 " + "9" * 40 + " IN IP4 10.0.0.1", *good[2:]),
        sdp(*(good[:3] + ["c=IN IP4"] + good[4:])),
        sdp(*(good[:4] + ["t=now"] + good[5:])),
        sdp(*(good[:5] + ["m=audio x RTP/AVP 0"])),
        sdp(*(good[:5] + ["m=audio 70000 RTP/AVP 0"])),
        sdp(*(good[:5] + ["m=audio 4000 RTP/AVP 0 200"])),
        sdp(*(good[:5] + ["m=audio 4000 RTP/AVP PCMU"])),
        sdp(*(good[:5] + ["m=audio 4000 RTP/AVP"])),
        sdp(*(good[:5] + ["m=audio 4000"])),
        sdp(*(good + ["a=rtpmap:x PCMU/8000"])),
        sdp(*(good + ["a=rtpmap:0 PCMU/fast"])),
        sdp(*(good + ["a=rtpmap:0 "])),
        sdp(*(good + ["a=fmtp:abc 0-15"])),
        sdp(*(good + ["a=ptime:soon"])),
        sdp(*(good + ["a=ptime:0"])),
        sdp(*(good + ["no equals sign"])),
        sdp(*(good + ["A=upper"])),
        sdp(*(good + ["v=0"])),
        sdp(*(good + ["o=- 2 2 IN IP4 10.0.0.1"])),
        sdp("v=0", "o=- 1 1 IN IP4 10.0.0.1", "s=-", "t=0 0", "m=audio 4000 RTP/AVP 0"),
        sdp(*(good[:5] + ["m=audio 4000 RTP/AVP \u0663"])),
    ]
    for data in cases:
        expect_error(data, 400)
    for data in (None, 42):
        expect_error(data, 400)


def test_lenient_where_real_peers_differ():
    # Empty s=, missing t=, rtpmap without a clock rate (RFC 4475 sdp01), ptime 20.0.
    desc = parse_sdp(sdp("v=0", "o=- 1 1 IN IP4 10.0.0.1", "s=", "c=IN IP4 10.0.0.1",
                         "m=audio 0 RTP/AVP 31", "a=rtpmap:31 LPC", "a=ptime:20.0"))
    assert desc.session_name == "" and desc.timing == []
    assert desc.media[0].codec(31) == ("LPC", None, None)
    assert desc.media[0].ptime == 20
    assert b"s=-\r\n" in desc.serialize() and b"t=0 0\r\n" in desc.serialize()
