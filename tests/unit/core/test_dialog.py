"""Dialogs (RFC 3261 12): creation, route sets, CSeq, in-dialog requests."""

from firmware.core.dialog import CONFIRMED, EARLY, Dialog, dialog_key
from firmware.core.message import Request, make_response
from firmware.core.parse import parse_message


def invite():
    req = Request("INVITE", "sip:bob@example.test")
    h = req.headers
    h.add("Via", "SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bKinv")
    h.add("Record-Route", "<sip:p1.example.test;lr>")
    h.add("Record-Route", "<sip:p2.example.test;lr>, <sip:p3.example.test;lr>")
    h.add("From", '"Alice" <sip:alice@example.test>;tag=a1')
    h.add("To", "<sip:bob@example.test>")
    h.add("Call-ID", "c-42")
    h.add("CSeq", "7 INVITE")
    h.add("Contact", "<sip:alice@10.0.0.2:5060>")
    return req


def answer(req, status=200, tag="b1", contact="<sip:bob@10.0.0.3:5070>"):
    resp = make_response(req, status, to_tag=tag)
    for value in req.headers.get_all("Record-Route"):
        resp.headers.add("Record-Route", value)
    if contact:
        resp.headers.add("Contact", contact)
    return resp


def test_caller_dialog_from_2xx_reverses_the_route_set():
    req = invite()
    d = Dialog.from_response(req, answer(req))
    assert d.state == CONFIRMED and d.is_caller
    assert d.key == dialog_key("c-42", "a1", "b1")
    assert d.remote_target == "sip:bob@10.0.0.3:5070"
    assert d.route_set == ["<sip:p3.example.test;lr>", "<sip:p2.example.test;lr>",
                           "<sip:p1.example.test;lr>"]
    assert d.local_seq == 7 and d.remote_seq is None
    bye = d.create_request("BYE")
    assert bye.uri == "sip:bob@10.0.0.3:5070"
    assert bye.headers.get_all("Route")[0] == "<sip:p3.example.test;lr>"
    assert bye.cseq() == (8, "BYE")
    assert bye.from_addr().tag == "a1" and bye.to_addr().tag == "b1"
    assert bye.from_addr().display == "Alice"
    assert bye.call_id() == "c-42"
    # With the Via the user agent adds, it serializes to a well-formed request.
    bye.headers.insert_first("Via", "SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bKbye")
    again = parse_message(bye.serialize())
    assert again.cseq() == (8, "BYE")


def test_ack_and_cancel_reuse_the_invite_cseq():
    req = invite()
    d = Dialog.from_response(req, answer(req))
    ack = d.create_request("ACK", 7)
    assert ack.cseq() == (7, "ACK")
    assert d.local_seq == 7
    assert d.create_request("INVITE").cseq() == (8, "INVITE")


def test_early_dialog_from_tagged_1xx_then_confirmed_by_2xx_with_new_target():
    req = invite()
    d = Dialog.from_response(req, answer(req, 180, contact="<sip:bob@10.0.0.3:5070>"))
    assert d.state == EARLY
    ok = answer(req, 200, contact="<sip:bob@10.0.0.4:5080>")
    d.confirm(ok)
    assert d.state == CONFIRMED
    assert d.remote_target == "sip:bob@10.0.0.4:5080"


def test_callee_dialog_keeps_route_order_and_remote_cseq():
    req = invite()
    d = Dialog.from_request(req, "b9")
    assert not d.is_caller
    assert d.local_tag == "b9" and d.remote_tag == "a1"
    assert d.route_set[0] == "<sip:p1.example.test;lr>"
    assert d.remote_target == "sip:alice@10.0.0.2:5060"
    assert d.remote_seq == 7 and d.local_seq is None
    bye = d.create_request("BYE")
    assert bye.uri == "sip:alice@10.0.0.2:5060"
    assert bye.from_addr().tag == "b9" and bye.to_addr().tag == "a1"
    assert bye.cseq()[0] == 1                   # first request of ours: any start value


def test_incoming_requests_must_not_go_backwards():
    req = invite()
    d = Dialog.from_request(req, "b9")
    later = invite()
    later.headers.set("CSeq", "8 BYE")
    assert d.check_request(later) is None
    assert d.remote_seq == 8
    older = invite()
    older.headers.set("CSeq", "6 INFO")
    assert d.check_request(older) == 500
    ack = invite()
    ack.headers.set("CSeq", "7 ACK")
    ack.method = "ACK"
    assert d.check_request(ack) is None


def test_strict_router_becomes_the_request_uri():
    req = invite()
    resp = answer(req)
    resp.headers.remove("Record-Route")
    resp.headers.add("Record-Route", "<sip:strict.example.test>")
    resp.headers.add("Record-Route", "<sip:loose.example.test;lr>")
    d = Dialog.from_response(req, resp)
    # Reversed: loose is first for the caller; make the first one strict instead.
    d.route_set = ["<sip:strict.example.test>", "<sip:loose.example.test;lr>"]
    bye = d.create_request("BYE")
    assert bye.uri == "sip:strict.example.test"
    assert bye.headers.get_all("Route") == ["<sip:loose.example.test;lr>",
                                            "<sip:bob@10.0.0.3:5070>"]


def test_target_refresh_and_matching():
    req = invite()
    d = Dialog.from_response(req, answer(req))
    reinvite = d.create_request("INVITE")
    reinvite.headers.add("Contact", "<sip:alice@10.0.0.2:5062>")
    callee = Dialog.from_request(req, "b1")
    callee.refresh_target(reinvite)
    assert callee.remote_target == "sip:alice@10.0.0.2:5062"
    assert callee.matches(reinvite, True)
    assert d.matches(answer(req), False)
    assert not d.matches(answer(req, tag="other"), False)
