"""Offer/answer: our offers, answering an offer, reading the answer, hold directions."""

from firmware.core.offeranswer import MediaSession
from firmware.core.sdp import DIRECTIONS, SdpError, parse_sdp
from sdpbodies import AUDIO_OFFER, offer


def session(**options):
    return MediaSession("192.0.2.1", 40000, 4711, **options)


def expect_error(data, status):
    try:
        session().receive_offer(data)
    except SdpError as exc:
        assert exc.status == status, (data, exc.status, exc.reason)
        assert exc.reason and str(exc) == exc.reason
        return exc
    raise AssertionError("no SdpError for %r" % data)


# -- offers ---------------------------------------------------------------------

def test_offer_contents():
    media = session()
    desc = parse_sdp(media.create_offer())
    assert desc.session_id == "4711"
    assert desc.connection.address == "192.0.2.1" and desc.connection.addr_type == "IP4"
    assert desc.origin_address == "192.0.2.1"
    [audio] = desc.media
    assert (audio.media, audio.port, audio.proto) == ("audio", 40000, "RTP/AVP")
    assert audio.formats == [0, 8, 101]
    assert audio.codec(0)[:2] == ("PCMU", 8000) and audio.codec(8)[:2] == ("PCMA", 8000)
    assert audio.codec(101)[:2] == ("telephone-event", 8000)
    assert audio.fmtp_for(101) == "0-16"
    assert audio.ptime == 20 and audio.direction == "sendrecv"


def test_offer_honours_configuration():
    media = session(codecs=("pcma",), telephone_event=False, ptime=30)
    [audio] = parse_sdp(media.create_offer()).media
    assert audio.formats == [8] and audio.ptime == 30
    for bad in (("G729",), ()):
        try:
            session(codecs=bad)
        except ValueError:
            pass
        else:
            raise AssertionError(bad)


def test_origin_version_bumped_for_each_offer():
    media = session()
    versions = [parse_sdp(media.create_offer()).session_version,
                parse_sdp(media.hold()).session_version,
                parse_sdp(media.resume()).session_version,
                parse_sdp(media.create_offer()).session_version]
    assert versions == [1, 2, 3, 4]


def test_ipv6_local_address():
    media = MediaSession("2001:db8::7", 40000, 1)
    desc = parse_sdp(media.create_offer())
    assert desc.origin_addr_type == "IP6" and desc.connection.addr_type == "IP6"
    assert b"c=IN IP6 2001:db8::7\r\n" in media.create_offer()


# -- answering an offer ---------------------------------------------------------

def test_answer_intersects_in_offerer_order():
    answer, negotiated = session().receive_offer(AUDIO_OFFER)
    [audio] = parse_sdp(answer).media
    assert audio.formats == [8, 0, 96]
    assert audio.codec(96)[0] == "telephone-event"
    assert audio.port == 40000 and audio.direction == "sendrecv"
    assert negotiated.codec == "PCMA" and negotiated.payload_type == 8
    assert negotiated.clock_rate == 8000
    assert negotiated.dtmf_payload_type == 96
    assert negotiated.ptime == 30
    assert negotiated.remote_address == "192.0.2.10" and negotiated.remote_port == 49170
    assert negotiated.direction == "sendrecv"


def test_answer_limited_to_configured_codecs():
    answer, negotiated = session(codecs=("PCMU",), telephone_event=False).receive_offer(
        AUDIO_OFFER)
    assert parse_sdp(answer).media[0].formats == [0]
    assert negotiated.codec == "PCMU" and negotiated.dtmf_payload_type is None


def test_no_common_codec_is_488():
    exc = expect_error(offer(["m=audio 5004 RTP/AVP 18 4", "a=rtpmap:18 G729/8000"]), 488)
    assert "codec" in exc.reason
    # PCMU at another clock rate is another codec
    expect_error(offer(["m=audio 5004 RTP/AVP 97", "a=rtpmap:97 PCMU/16000"]), 488)


def test_unsupported_streams_rejected_and_audio_negotiated():
    data = offer(["m=video 51372 RTP/AVP 31", "a=rtpmap:31 H261/90000",
                  "m=audio 49170 RTP/AVP 0", "m=image 15580 udptl t38",
                  "m=audio 49180 RTP/SAVP 0", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:x"])
    answer, negotiated = session().receive_offer(data)
    desc = parse_sdp(answer)
    assert [(m.media, m.port) for m in desc.media] == [("video", 0), ("audio", 40000),
                                                       ("image", 0), ("audio", 0)]
    assert desc.media[2].formats == ["t38"] and desc.media[3].proto == "RTP/SAVP"
    assert negotiated.media_index == 1 and negotiated.remote_port == 49170
    assert b"a=crypto" not in answer and b"H261" not in answer
    # a later offer of ours keeps the rejected lines (RFC 3264 section 8)
    later = parse_sdp(session_after(data).create_offer())
    assert [(m.media, m.port) for m in later.media] == [("video", 0), ("audio", 40000),
                                                        ("image", 0), ("audio", 0)]


def session_after(data):
    media = session()
    media.receive_offer(data)
    return media


def test_t38_only_reoffer_is_488():
    expect_error(offer(["m=image 15580 udptl t38"]), 488)
    expect_error(offer(["m=audio 0 RTP/AVP 0"]), 488)


def test_hold_directions_mirrored():
    cases = (("sendonly", "recvonly"), ("recvonly", "sendonly"), ("inactive", "inactive"),
             ("sendrecv", "sendrecv"))
    for offered, answered in cases:
        data = offer(["m=audio 49170 RTP/AVP 0", "a=" + offered])
        answer, negotiated = session().receive_offer(data)
        assert parse_sdp(answer).media[0].direction == answered
        assert negotiated.direction == answered
    assert set(DIRECTIONS) == set([c[0] for c in cases])


def test_legacy_hold_with_zero_address():
    data = offer(["m=audio 49170 RTP/AVP 0"], connection="c=IN IP4 0.0.0.0")
    answer, negotiated = session().receive_offer(data)
    assert parse_sdp(answer).media[0].direction == "recvonly"
    assert negotiated.direction == "recvonly" and negotiated.remote_address == "0.0.0.0"
    data = offer(["m=audio 49170 RTP/AVP 0", "a=recvonly"], connection="c=IN IP4 0.0.0.0")
    assert session().receive_offer(data)[1].direction == "inactive"


def test_our_hold_limits_the_answer_to_a_reoffer():
    media = session()
    media.hold()
    answer, negotiated = media.receive_offer(AUDIO_OFFER)
    assert parse_sdp(answer).media[0].direction == "sendonly"
    assert negotiated.direction == "sendonly"


def test_answer_version_bumped_only_on_change():
    media = session()
    first = parse_sdp(media.receive_offer(AUDIO_OFFER)[0]).session_version
    same = parse_sdp(media.receive_offer(AUDIO_OFFER)[0]).session_version
    held = offer(["m=audio 49170 RTP/AVP 8", "a=sendonly"])
    changed = parse_sdp(media.receive_offer(held)[0]).session_version
    assert (first, same, changed) == (1, 1, 2)


def test_offerer_dtmf_payload_type_kept_in_later_offers():
    media = session()
    media.receive_offer(AUDIO_OFFER)
    [audio] = parse_sdp(media.create_offer()).media
    assert audio.formats == [0, 8, 96] and audio.codec(96)[0] == "telephone-event"


def test_ipv6_offer():
    data = offer(["m=audio 15062 RTP/AVP 100 0 120", "a=rtpmap:100 AMR-WB/16000",
                  "a=rtpmap:120 telephone-event/8000"],
                 connection="c=IN IP6 fd17:625c:f037:2:a00:27ff:feb9:1521")
    answer, negotiated = MediaSession("fd17::2", 30000, 9).receive_offer(data)
    assert negotiated.remote_address == "fd17:625c:f037:2:a00:27ff:feb9:1521"
    assert (negotiated.codec, negotiated.dtmf_payload_type) == ("PCMU", 120)
    assert b"c=IN IP6 fd17::2\r\n" in answer


# -- reading the answer to our offer ---------------------------------------------

def answer_to(media_lines, connection="c=IN IP4 198.51.100.5"):
    return offer(media_lines, connection=connection)


def test_answer_chooses_answerers_first_codec():
    media = session()
    media.create_offer()
    negotiated = media.receive_answer(answer_to(["m=audio 7078 RTP/AVP 8 0 101",
                                                 "a=rtpmap:101 telephone-event/8000",
                                                 "a=ptime:40"]))
    assert negotiated.codec == "PCMA" and negotiated.payload_type == 8
    assert negotiated.dtmf_payload_type == 101
    assert negotiated.remote_address == "198.51.100.5" and negotiated.remote_port == 7078
    assert negotiated.ptime == 40 and negotiated.direction == "sendrecv"
    assert media.negotiated is negotiated


def test_answer_rejecting_audio_gives_port_zero():
    media = session()
    media.create_offer()
    negotiated = media.receive_answer(answer_to(["m=audio 0 RTP/AVP 0"]))
    assert negotiated.remote_port == 0 and negotiated.codec is None


def test_answer_problems():
    media = session()
    try:
        media.receive_answer(answer_to(["m=audio 7078 RTP/AVP 0"]))
    except SdpError as exc:
        assert exc.status == 400  # no offer outstanding
    else:
        raise AssertionError("no SdpError")
    media.create_offer()
    try:
        media.receive_answer(answer_to(["m=audio 7078 RTP/AVP 18"]))
    except SdpError as exc:
        assert exc.status == 488
    else:
        raise AssertionError("no SdpError")
    media.create_offer()
    try:
        media.receive_answer(answer_to(["m=video 7078 RTP/AVP 31"]))
    except SdpError as exc:
        assert exc.status == 400
    else:
        raise AssertionError("no SdpError")


def test_hold_and_resume_round_trip():
    media = session()
    media.create_offer()
    media.receive_answer(answer_to(["m=audio 7078 RTP/AVP 0"]))
    hold = parse_sdp(media.hold())
    assert hold.media[0].direction == "sendonly"
    negotiated = media.receive_answer(answer_to(["m=audio 7078 RTP/AVP 0", "a=recvonly"]))
    assert negotiated.direction == "sendonly"
    resume = parse_sdp(media.resume())
    assert resume.media[0].direction == "sendrecv"
    assert resume.session_version == hold.session_version + 1
    negotiated = media.receive_answer(answer_to(["m=audio 7078 RTP/AVP 0", "a=inactive"]))
    assert negotiated.direction == "inactive"


def test_first_telephone_event_at_8000_wins():
    data = offer(["m=audio 5004 RTP/AVP 0 121 101 102", "a=rtpmap:121 telephone-event/16000",
                  "a=rtpmap:101 telephone-event/8000", "a=rtpmap:102 telephone-event/8000"])
    answer, negotiated = session().receive_offer(data)
    assert negotiated.dtmf_payload_type == 101
    assert parse_sdp(answer).media[0].formats == [0, 101]
