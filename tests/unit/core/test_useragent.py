"""The user agent as the runtime sees it: what it answers by itself, digest,
transport feedback, commands, and peers that are odd or broken."""

from firmware.core.commands import UaEvent as ev
from firmware.core.digest import MAX_REJECTIONS
from firmware.core.commands import PROXY, Flow, Send, TransactionEnded, TransactionStarted
from firmware.core.errors import MessageError
from firmware.core.message import make_response
from firmware.core.parse import parse_message
from firmware.core.uaconfig import UaConfig
from firmware.core.useragent import UserAgent
from netsim import RawNode
from simphones import World, events, has, last_session

SDP_OFFER = ("v=0\r\no=- 1 1 IN IP4 10.0.0.50\r\ns=-\r\nc=IN IP4 10.0.0.50\r\nt=0 0\r\n"
             "m=audio 4000 RTP/AVP 8 0\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n")


def raw_request(method, ruri="sip:alice@10.0.0.11:5060", branch="z9hG4bKraw1", to_tag=None,
                extra=(), body="", call_id="raw-call-1", cseq=1, from_tag="rawtag",
                cseq_method=None, length=None):
    lines = ["%s %s SIP/2.0" % (method, ruri),
             "Via: SIP/2.0/UDP 10.0.0.50:5060;branch=%s" % branch,
             "Max-Forwards: 70",
             "From: <sip:tester@sim.test>;tag=%s" % from_tag,
             "To: <sip:alice@sim.test>" + (";tag=%s" % to_tag if to_tag else ""),
             "Call-ID: %s" % call_id,
             "CSeq: %d %s" % (cseq, cseq_method or method),
             "Contact: <sip:tester@10.0.0.50:5060>"]
    lines.extend(extra)
    if body:
        lines.append("Content-Type: application/sdp")
    lines.append("Content-Length: %d" % (len(body) if length is None else length))
    return "\r\n".join(lines) + "\r\n\r\n" + body


def setup(seed=1, **options):
    world = World(seed, auth=False, **options)
    alice = world.phone("alice")
    tester = world.sim.add(RawNode("10.0.0.50", 5060))
    assert world.registered(alice)
    return world, alice, tester


def ask(world, tester, text, count=1):
    before = len(tester.received)
    tester.send(world_addr(), text)
    world.run_until(lambda: len(tester.received) >= before + count, 40)
    return tester.received[before:]


def world_addr():
    return "10.0.0.11:5060"


def test_options_is_answered_with_capabilities():
    world, alice, tester = setup()
    reply = ask(world, tester, raw_request("OPTIONS"))[0]
    assert reply.status == 200
    assert "INVITE" in reply.headers.get("Allow") and "BYE" in reply.headers.get("Allow")
    assert reply.headers.get("Accept") == "application/sdp"
    assert "Supported" in reply.headers
    assert reply.to_addr().tag is not None
    # A retransmission gets the same response from the server transaction.
    again = ask(world, tester, raw_request("OPTIONS"))[0]
    assert again.to_addr().tag == reply.to_addr().tag


def test_unknown_methods_get_405_with_allow():
    world, alice, tester = setup(2)
    for method in ("SUBSCRIBE", "FROBNICATE"):
        reply = ask(world, tester, raw_request(method, branch="z9hG4bK" + method))[0]
        assert reply.status == 405
        assert reply.headers.get("Allow") == "INVITE, ACK, CANCEL, BYE, OPTIONS"


def test_unsupported_require_gets_420_with_unsupported():
    world, alice, tester = setup(3)
    text = raw_request("INVITE", extra=["Require: 100rel, timer"], body=SDP_OFFER)
    reply = ask(world, tester, text)[0]
    assert reply.status == 420
    assert reply.headers.get("Unsupported") == "100rel, timer"
    assert ev.INCOMING not in alice.names()


def test_requests_outside_any_dialog_get_481():
    world, alice, tester = setup(4)
    bye = ask(world, tester, raw_request("BYE", to_tag="nosuch", branch="z9hG4bKb"))[0]
    assert bye.status == 481
    info = ask(world, tester, raw_request("INFO", to_tag="nosuch", branch="z9hG4bKi"))[0]
    assert info.status == 481
    cancel = ask(world, tester, raw_request("CANCEL", branch="z9hG4bKnone"))[0]
    assert cancel.status == 481


def test_malformed_requests_get_the_message_layer_error_response():
    world, alice, tester = setup(5)
    reply = ask(world, tester, raw_request("OPTIONS", length=80))[0]
    assert reply.status == 400
    assert reply.reason.startswith("Bad Request")
    bad_cseq = raw_request("OPTIONS", branch="z9hG4bKm2").replace(
        "Max-Forwards: 70", "Max-Forwards: lots")
    reply = ask(world, tester, bad_cseq)[0]
    assert reply.status == 400
    # The same through a stream framer: the runtime hands over the MessageError.
    try:
        parse_message(raw_request("OPTIONS", length=80).encode())
    except MessageError as error:
        before = len(alice.ua._commands)
        alice.ua.receive(error, ("10.0.0.50", 5060), True, world.now)
        sent = alice.ua.commands()[before:]
        assert len(sent) == 1 and sent[0].message.status == 400
    else:
        raise AssertionError("the message layer accepted a bad Content-Length")


def test_invite_with_a_body_that_is_not_sdp_gets_415():
    world, alice, tester = setup(6)
    text = raw_request("INVITE", body="hello").replace("application/sdp", "text/plain")
    reply = ask(world, tester, text)[0]
    assert reply.status == 415 and reply.headers.get("Accept") == "application/sdp"


def test_100_trying_goes_out_when_the_phone_is_slow_and_cancel_gets_487():
    world, alice, tester = setup(7)
    replies = ask(world, tester, raw_request("INVITE", body=SDP_OFFER))
    assert replies[0].status == 100
    assert has(alice, ev.INCOMING)()
    cancel = raw_request("CANCEL", body="")
    got = ask(world, tester, cancel, count=2)
    statuses = sorted([(m.cseq()[1], m.status) for m in got])
    assert statuses == [("CANCEL", 200), ("INVITE", 487)]
    invite_487 = [m for m in got if m.status == 487][0]
    assert events(alice, ev.DISCONNECTED)[0].cause == "cancelled"
    # The 487 is retransmitted until the ACK comes.
    world.run_until(lambda: len(tester.responses(487)) >= 2, 5)
    assert len(tester.responses(487)) >= 2
    tester.send(world_addr(), raw_request("ACK", to_tag=invite_487.to_addr().tag,
                                          cseq_method="ACK"))
    world.sim.run(10)
    count = len(tester.responses(487))
    world.sim.run(20)
    assert len(tester.responses(487)) == count


def test_merged_request_gets_482():
    world, alice, tester = setup(8)
    ask(world, tester, raw_request("INVITE", body=SDP_OFFER))
    reply = ask(world, tester, raw_request("INVITE", body=SDP_OFFER, branch="z9hG4bKother"))
    assert reply[-1].status == 482
    assert len(events(alice, ev.INCOMING)) == 1


def test_delayed_offer_and_cseq_order_inside_the_dialog():
    world, alice, tester = setup(9)
    ask(world, tester, raw_request("INVITE"))
    session = last_session(alice)
    assert session.answer(world.now)
    world.run_until(lambda: tester.responses(200), 5)
    ok = tester.responses(200)[0]
    assert b"m=audio" in ok.body                      # our offer in the 2xx
    tag = ok.to_addr().tag
    tester.send(world_addr(), raw_request("ACK", to_tag=tag, cseq_method="ACK", body=SDP_OFFER,
                                          branch="z9hG4bKack"))
    assert world.run_until(has(alice, ev.CONNECTED), 5)
    assert session.negotiated.remote_port == 4000
    assert session.negotiated.codec == "PCMA"         # the answer's first codec
    info = ask(world, tester, raw_request("OPTIONS", to_tag=tag, cseq=5, branch="z9hG4bKo5"))
    assert info[0].status == 200
    old = ask(world, tester, raw_request("OPTIONS", to_tag=tag, cseq=3, branch="z9hG4bKo3"))
    assert old[0].status == 500
    bye = ask(world, tester, raw_request("BYE", to_tag=tag, cseq=6, branch="z9hG4bKbye"))
    assert bye[0].status == 200
    assert events(alice, ev.DISCONNECTED)[0].cause == "remote hung up"


def test_rfc2543_peer_without_branch_cookie():
    world, alice, tester = setup(10)
    ask(world, tester, raw_request("INVITE", branch="old1", body=SDP_OFFER))
    session = last_session(alice)
    session.reject(world.now, 603)
    world.run_until(lambda: tester.responses(603), 5)
    decline = tester.responses(603)[0]
    # The ACK matches the transaction by the 2543 rules and stops the 603s.
    tester.send(world_addr(), raw_request("ACK", branch="old1", cseq_method="ACK",
                                          to_tag=decline.to_addr().tag))
    world.sim.run(1.0)
    count = len(tester.responses(603))
    world.sim.run(30.0)
    assert len(tester.responses(603)) == count
    assert events(alice, ev.ENDED)[0].status == 603


def test_digest_challenge_then_proactive_credentials_on_the_next_call():
    world = World(11, auth_invite=True)
    alice = world.phone("alice")
    bob = world.phone("bob")
    assert world.registered(alice, bob)
    challenges = world.proxy.challenges
    first = alice.ua.call("bob", world.now)
    assert world.run_until(has(bob, ev.INCOMING))
    assert world.proxy.challenges == challenges + 1
    invites = alice.sent("INVITE")
    assert [i.cseq()[0] for i in invites] == [1, 2]
    assert invites[0].top_via().branch != invites[1].top_via().branch
    assert "Proxy-Authorization" not in invites[0].headers
    assert "Proxy-Authorization" in invites[1].headers
    assert alice.sent("ACK")[0].to_addr().tag == "px1"       # the 407 was ACKed
    incoming = last_session(bob)
    incoming.answer(world.now)
    assert world.run_until(has(alice, ev.CONNECTED))
    assert first.dialog.local_seq == 2
    ack = [a for a in alice.sent("ACK") if a.to_addr().tag != "px1"][0]
    assert ack.headers.get("Proxy-Authorization") == invites[1].headers.get("Proxy-Authorization")
    first.hang_up(world.now)
    assert world.run_until(has(alice, ev.ENDED))
    assert alice.sent("BYE")[0].cseq()[0] == 3

    alice.ua.call("bob", world.now)
    assert world.run_until(has(bob, ev.INCOMING, 2))
    assert world.proxy.challenges == challenges + 1           # no new challenge
    second = alice.sent("INVITE")[-1]
    assert second.cseq()[0] == 1 and "Proxy-Authorization" in second.headers
    for sent in alice.commands:
        if isinstance(sent, Send):
            assert b"pw-alice" not in sent.message.serialize()


def test_wrong_password_on_invite_fails_the_call():
    world = World(12, auth_invite=True)
    alice = world.phone("alice", start=False)
    bob = world.phone("bob")
    assert world.registered(bob)
    world.users["alice"] = "something-else"
    alice.ua.call("bob", world.now)
    assert world.run_until(has(alice, ev.FAILED))
    failed = events(alice, ev.FAILED)[0]
    assert failed.status == 407
    # A fresh nonce each time: retried a bounded number of times, then given up.
    assert 2 <= len(alice.sent("INVITE")) <= MAX_REJECTIONS + 2


def test_transport_error_fails_the_call_with_503():
    world, alice, tester = setup(13)
    alice.fail_targets.append(PROXY)
    alice.ua.call("sip:bob@sim.test", world.now)
    assert world.run_until(has(alice, ev.FAILED), 5)
    failed = events(alice, ev.FAILED)[0]
    assert failed.status == 503 and failed.cause == "transport error"


def test_reliable_transport_answers_on_the_flow_and_never_retransmits():
    world = World(14, loss=0.0)
    alice = world.phone("alice", reliable=True)
    bob = world.phone("bob", reliable=True)
    assert world.registered(alice, bob)
    alice.ua.call("bob", world.now)
    assert world.run_until(has(bob, ev.INCOMING))
    world.sim.run(5.0)                                        # let every timer go by
    last_session(bob).answer(world.now)
    assert world.run_until(has(alice, ev.CONNECTED))
    responses = [c for c in bob.commands
                 if isinstance(c, Send) and not c.message.is_request]
    assert responses and all(isinstance(c.target, Flow) for c in responses)
    assert len(alice.sent("INVITE")) == 1
    assert len([r for r in bob.sent(" 200 ") if r.cseq()[1] == "INVITE"]) >= 1
    via = alice.sent("INVITE")[0].top_via()
    assert via.transport == "TCP" and via.rport is True


def test_every_transaction_started_also_ends():
    world = World(15)
    alice = world.phone("alice")
    bob = world.phone("bob")
    assert world.registered(alice, bob)
    alice.ua.call("bob", world.now)
    assert world.run_until(has(bob, ev.INCOMING))
    last_session(bob).answer(world.now)
    assert world.run_until(has(alice, ev.CONNECTED))
    events(alice, ev.CONNECTED)[0].session.hang_up(world.now)
    assert world.run_until(has(alice, ev.ENDED))
    alice.ua.shutdown(world.now)
    world.sim.run(100.0)
    started = {}
    for cmd in alice.commands + bob.commands:
        if isinstance(cmd, TransactionStarted):
            started[cmd.key] = started.get(cmd.key, 0) + 1
        elif isinstance(cmd, TransactionEnded):
            started[cmd.key] = started.get(cmd.key, 0) - 1
    assert started and all(v == 0 for v in started.values())
    assert len(alice.ua.layer) == 0 and len(bob.ua.layer) == 0
    assert alice.ua.next_deadline() is None


def test_config_from_the_nested_document():
    doc = {
        "account": {"user": "alice", "password": "s3cret", "domain": "example.test",
                    "display_name": "Alice", "auth_user": "a1"},
        "outbound_proxy": {"address": "192.0.2.1", "hostname": "proxy.example.test",
                           "port": 5061, "transport": "tls"},
        "listen": {"address": "192.0.2.10", "udp_port": 5060, "tls_port": 5063},
        "registration": {"expires_s": 900},
        "sip": {"t1_s": 0.25, "t2_s": 2.0, "t4_s": 3.0, "user_agent": "deskphone/1",
                "instance_id": "urn:uuid:1", "use_outbound": True},
    }
    config = UaConfig.from_dict(doc)
    assert config.aor == "sip:alice@example.test"
    assert config.local_port == 5063 and config.proxy_reliable
    assert config.expires == 900 and config.t1 == 0.25 and config.use_outbound
    assert "s3cret" not in repr(config)
    ua = UserAgent(doc, lambda: "0123456789abcdef")
    assert ua.layer.timers.t1 == 0.25
    ua.start(0.0)
    sent = [c for c in ua.commands() if isinstance(c, Send)]
    register = sent[0].message
    assert sent[0].target is PROXY
    assert register.top_via().transport == "TLS" and register.top_via().alias
    assert register.headers.get("User-Agent") == "deskphone/1"
    assert "s3cret" not in str(ua) and "s3cret" not in repr(ua.digest)


def test_without_a_proxy_requests_go_to_the_uri_and_early_dialogs_answer():
    world = World(16, auth=False)
    alice = world.phone("alice", proxy_address=None, start=False)
    tester = world.sim.add(RawNode("10.0.0.50", 5060))
    session = alice.ua.call("sip:tester@10.0.0.50:5060", world.now)
    assert world.run_until(lambda: tester.requests("INVITE"), 5)
    invite = tester.requests("INVITE")[0]
    sends = [c for c in alice.commands if isinstance(c, Send)]
    assert sends[0].target.key() == ("datagram", "10.0.0.50", 5060)
    ringing = make_response(invite, 180, to_tag="early1")
    ringing.headers.add("Contact", "<sip:tester@10.0.0.50:5060>")
    tester.send(world_addr(), ringing.serialize())
    assert world.run_until(has(alice, ev.PROGRESS), 5)
    tag = invite.from_addr().tag
    early = ["OPTIONS", "INFO", "BYE"]
    replies = []
    for number in range(3):
        text = raw_request(early[number], to_tag=tag, from_tag="early1",
                           call_id=invite.call_id(), cseq=number + 1,
                           branch="z9hG4bKe%d" % number)
        replies.append(ask(world, tester, text)[0].status)
    assert replies == [200, 405, 200]
    assert session.state == "early"


def _answer_sdp(port, codec_line="m=audio %d RTP/AVP 0", address="10.0.0.50"):
    return ("v=0\r\no=- 2 2 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\n" % (address, address)
            + (codec_line % port) + "\r\na=rtpmap:0 PCMU/8000\r\n")


def _reply(invite, status, tag, sdp=None):
    response = make_response(invite, status, to_tag=tag)
    response.headers.add("Contact", "<sip:tester@10.0.0.50:5060>")
    if sdp is not None:
        response.headers.add("Content-Type", "application/sdp")
        response.body = sdp.encode()
    return response.serialize()


def _direct_call(seed):
    world = World(seed, auth=False)
    alice = world.phone("alice", proxy_address=None, start=False)
    tester = world.sim.add(RawNode("10.0.0.50", 5060))
    session = alice.ua.call("sip:tester@10.0.0.50:5060", world.now)
    assert world.run_until(lambda: tester.requests("INVITE"), 5)
    return world, alice, tester, session, tester.requests("INVITE")[0]


def test_early_media_answer_in_183_stands_and_the_2xx_sdp_is_ignored():
    world, alice, tester, session, invite = _direct_call(17)
    tester.send(world_addr(), _reply(invite, 183, "early1", _answer_sdp(7000)))
    assert world.run_until(has(alice, ev.EARLY_MEDIA), 5)
    names = [e.name for e in alice.events]
    assert names.index(ev.PROGRESS) < names.index(ev.EARLY_MEDIA)
    early = events(alice, ev.EARLY_MEDIA)[0].media
    assert (early.codec, early.remote_address, early.remote_port) == ("PCMU", "10.0.0.50", 7000)
    assert session.negotiated is early
    # the same dialog's next SDP is not a new answer (RFC 3261 13.2.1)
    tester.send(world_addr(), _reply(invite, 180, "early1", _answer_sdp(7100)))
    assert world.run_until(has(alice, ev.PROGRESS, 2), 5)
    assert len(events(alice, ev.EARLY_MEDIA)) == 1
    tester.send(world_addr(), _reply(invite, 200, "early1", _answer_sdp(7200)))
    assert world.run_until(has(alice, ev.CONNECTED), 5)
    assert events(alice, ev.CONNECTED)[0].media.remote_port == 7000
    assert session.negotiated.remote_port == 7000
    assert world.run_until(lambda: tester.requests("ACK"), 5)
    assert not tester.requests("BYE")


def test_an_unusable_early_answer_is_ignored_and_the_2xx_answers():
    world, alice, tester, session, invite = _direct_call(18)
    tester.send(world_addr(), _reply(invite, 183, "early2",
                                     _answer_sdp(7000, "m=audio %d RTP/AVP 18")))
    assert world.run_until(has(alice, ev.PROGRESS), 5)
    world.run_until(lambda: False, 0.5)
    assert not has(alice, ev.EARLY_MEDIA)() and session.negotiated is None
    tester.send(world_addr(), _reply(invite, 200, "early2", _answer_sdp(7300)))
    assert world.run_until(has(alice, ev.CONNECTED), 5)
    assert events(alice, ev.CONNECTED)[0].media.remote_port == 7300


def test_early_media_follows_the_latest_fork_and_the_answering_dialog_keeps_its_own():
    world, alice, tester, session, invite = _direct_call(19)
    tester.send(world_addr(), _reply(invite, 183, "forkA", _answer_sdp(7000)))
    assert world.run_until(has(alice, ev.EARLY_MEDIA), 5)
    tester.send(world_addr(), _reply(invite, 183, "forkB", _answer_sdp(7400)))
    assert world.run_until(has(alice, ev.EARLY_MEDIA, 2), 5)
    assert session.negotiated.remote_port == 7400
    # fork A answers: its own early answer is the session's media
    tester.send(world_addr(), _reply(invite, 200, "forkA", _answer_sdp(7500)))
    assert world.run_until(has(alice, ev.CONNECTED), 5)
    assert session.negotiated.remote_port == 7000


def test_a_2xx_from_a_dialog_without_early_media_answers_with_its_own_sdp():
    world, alice, tester, session, invite = _direct_call(20)
    tester.send(world_addr(), _reply(invite, 183, "forkA", _answer_sdp(7000)))
    assert world.run_until(has(alice, ev.EARLY_MEDIA), 5)
    tester.send(world_addr(), _reply(invite, 200, "forkC", _answer_sdp(7600)))
    assert world.run_until(has(alice, ev.CONNECTED), 5)
    assert session.negotiated.remote_port == 7600
