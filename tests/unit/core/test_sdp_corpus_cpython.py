"""Real SDP bodies from the shared corpus (../shared/corpus from the project root)."""

from pathlib import Path

import pytest

from firmware.core.offeranswer import MediaSession
from firmware.core.sdp import SdpError, parse_sdp

CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "corpus"


def body(relative):
    path = CORPUS / relative
    if not path.exists():
        pytest.skip("corpus not present: %s" % path)
    data = path.read_bytes()
    for blank in (b"\r\n\r\n", b"\n\n"):
        head, sep, rest = data.partition(blank)
        if sep:
            return rest
    raise AssertionError("no body in %s" % relative)


def answer(relative):
    media = MediaSession("192.0.2.1", 40000, 77)
    data, negotiated = media.receive_offer(body(relative))
    return parse_sdp(data), negotiated


def test_bestel_offer_pcma_first_in_offerer_order():
    desc, negotiated = answer("valid/22_invite_sdp_bestel.sip")
    # offered 8 18 4 0 with a=SendRecv: G.729 and G.723 dropped, order kept
    assert desc.media[0].formats == [8, 0]
    assert (negotiated.codec, negotiated.payload_type) == ("PCMA", 8)
    assert negotiated.dtmf_payload_type is None
    assert (negotiated.remote_address, negotiated.remote_port) == ("200.57.7.196", 40376)
    assert negotiated.direction == "sendrecv"


def test_nero_offer_with_lower_case_codec_names():
    desc, negotiated = answer("valid/07_invite_sdp_nero.sip")
    assert desc.media[0].formats[:2] == [0, 8]
    assert negotiated.codec == "PCMU"


def test_fax_gateway_offer_dtmf_and_ptime():
    desc, negotiated = answer("valid/36_invite_sdp_fax_gw.sip")
    assert desc.media[0].formats == [8, 102]
    assert negotiated.codec == "PCMA" and negotiated.dtmf_payload_type == 102
    assert negotiated.ptime == 30
    offered = parse_sdp(body("valid/36_invite_sdp_fax_gw.sip"))
    assert offered.media[0].attribute("cdsc") == "1 image udptl t38"


def test_t38_reinvite_not_acceptable():
    with pytest.raises(SdpError) as info:
        answer("valid/41_reinvite_t38.sip")
    assert info.value.status == 488
    assert parse_sdp(body("valid/41_reinvite_t38.sip")).media[0].formats == ["t38"]


def test_ipv6_offer_with_amr_and_two_telephone_events():
    desc, negotiated = answer("valid/52_invite_ipv6_fragmented_100rel.sip")
    assert desc.media[0].formats == [0, 120]
    assert negotiated.codec == "PCMU" and negotiated.dtmf_payload_type == 120
    assert negotiated.remote_address == "fd17:625c:f037:2:a00:27ff:feb9:1521"


def test_rfc4475_video_line_rejected():
    desc, negotiated = answer("rfc4475/sdp01.sip")
    assert [(m.media, m.port) for m in desc.media] == [("audio", 40000), ("video", 0)]
    assert negotiated.codec == "PCMU" and negotiated.remote_port == 49217


def test_rfc5118_ipv6_and_media_level_connections():
    with pytest.raises(SdpError) as info:
        answer("rfc5118/wire/ipv6-in-sdp.sip")  # G.726 audio only
    assert info.value.status == 488
    offered = parse_sdp(body("rfc5118/wire/ipv6-in-sdp.sip"))
    assert offered.connection.addr_type == "IP6" and offered.connection.address == "2001:db8::20"
    desc, negotiated = answer("rfc5118/wire/mult-ip-in-sdp.sip")
    assert negotiated.remote_address == "192.0.2.1" and negotiated.remote_port == 22334
    assert [m.port for m in desc.media] == [40000, 0]


def test_early_media_answer_read_as_answer():
    media = MediaSession("192.0.2.1", 40000, 77)
    media.create_offer()
    negotiated = media.receive_answer(body("valid/12_resp_183_sdp_early_media.sip"))
    assert negotiated.codec == "PCMA" and negotiated.remote_port == 40392


def test_every_corpus_sdp_body_round_trips():
    if not CORPUS.exists():
        pytest.skip("corpus not present: %s" % CORPUS)
    seen = 0
    for path in sorted(CORPUS.glob("**/*.sip")):
        data = path.read_bytes()
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep or b"application/sdp" not in head.lower() or not rest.strip():
            continue
        try:
            first = parse_sdp(rest)
        except SdpError as exc:
            assert exc.status == 400
            continue
        again = parse_sdp(first.serialize())
        assert again.serialize() == first.serialize(), path.name
        assert [(m.media, m.port, m.formats) for m in again.media] == \
            [(m.media, m.port, m.formats) for m in first.media], path.name
        seen += 1
    assert seen >= 15
