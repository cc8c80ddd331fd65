"""INVITE sessions between simulated phones: loss, CANCEL, forking, re-INVITE, glare."""

from firmware.core.commands import UaEvent as ev
from netsim import Lcg
from simphones import World, events, has, last_session


def call_setup(world, caller, callee):
    """Alice calls bob, bob answers; returns (caller session, callee session)."""
    session = caller.ua.call("bob", world.now)
    assert world.run_until(has(callee, ev.INCOMING))
    incoming = last_session(callee)
    assert incoming.ring(world.now)
    assert incoming.answer(world.now)
    assert world.run_until(lambda: has(caller, ev.CONNECTED)() and has(callee, ev.CONNECTED)())
    return session, incoming


def pair(seed=1, **options):
    world = World(seed, **options)
    alice = world.phone("alice")
    bob = world.phone("bob")
    assert world.registered(alice, bob)
    return world, alice, bob


def lossy_link(world, node, rate, seed):
    """Drop ``rate`` of the datagrams to or from ``node`` (its access link)."""
    rng = Lcg(seed)
    world.sim.net.drop = lambda src, dst, data: (node.addr in (src, dst)
                                                 and rng.random() < rate)


def lossy_call(seed):
    world, alice, bob = pair(seed)
    lossy_link(world, alice, 0.3, seed)
    session, incoming = call_setup(world, alice, bob)
    assert session.negotiated.codec == incoming.negotiated.codec == "PCMU"
    session.hang_up(world.now)
    assert world.run_until(lambda: has(alice, ev.ENDED)() and has(bob, ev.DISCONNECTED)())
    assert events(alice, ev.ENDED)[0].status == 200
    assert alice.ua.sessions == [] and bob.ua.sessions == []
    return world.sim.net.lost, len(alice.sent("INVITE")) + len(alice.sent("BYE"))


def test_call_completes_with_30_percent_loss_on_the_phone_link():
    lost = resent = 0
    for seed in (11, 12, 13, 14):
        dropped, requests = lossy_call(seed)
        lost += dropped
        resent += requests - 2
    # Loss happened and was repaired by retransmitting.
    assert lost > 0 and resent > 0


def call_through_loss(seed):
    """One call with 30 % loss on every datagram; True when it fully worked."""
    world, alice, bob = pair(seed, loss=0.3)
    session = alice.ua.call("bob", world.now)

    def answered():
        incoming = last_session(bob)
        if incoming is not None and incoming.state == "incoming":
            incoming.answer(world.now)
        return session.state in ("confirmed", "terminated")

    assert world.run_until(answered)
    if session.state == "confirmed":
        world.run_until(lambda: bob.ua.sessions == [] or
                        bob.ua.sessions[0].state == "confirmed", 100)
        session.hang_up(world.now)
    assert world.run_until(lambda: alice.ua.sessions == [] and bob.ua.sessions == [])
    ended = events(alice, ev.ENDED)
    if ended and ended[0].status == 200 and has(bob, ev.CONNECTED)():
        return True
    last = alice.events[-1]
    assert last.status in (None, 408, 481) or last.cause == "timeout", last
    return False


def test_calls_survive_30_percent_loss_on_every_datagram():
    # Every message crosses two lossy hops (phone-proxy-phone): about half of
    # them are lost end to end, so a transaction now and then runs out of
    # retransmissions. Most calls must complete and none may be left hanging.
    complete = [seed for seed in range(200, 210) if call_through_loss(seed)]
    assert len(complete) >= 8


def test_duplicated_and_reordered_datagrams_do_not_confuse_the_call():
    world, alice, bob = pair(21, duplicate=0.5, min_delay=0.001, max_delay=0.3)
    session, incoming = call_setup(world, alice, bob)
    assert session.hold(world.now)
    assert world.run_until(has(alice, ev.MEDIA))
    incoming.hang_up(world.now)
    assert world.run_until(lambda: has(bob, ev.ENDED)() and has(alice, ev.DISCONNECTED)())
    assert len(events(alice, ev.CONNECTED)) == 1 and len(events(bob, ev.CONNECTED)) == 1


def test_uas_retransmits_2xx_until_the_ack_arrives():
    world, alice, bob = pair(31)
    dropped = []

    def drop_two_acks(src, dst, data):
        if data.startswith(b"ACK ") and len(dropped) < 2:
            dropped.append(1)
            return True
        return False

    world.sim.net.drop = drop_two_acks
    call_setup(world, alice, bob)
    oks = [m for m in bob.sent(" 200 ") if m.cseq()[1] == "INVITE"]
    assert len(oks) == 3                       # first 2xx and two retransmissions
    assert len(alice.sent("ACK")) == 3         # each retransmitted 2xx ACKed again


def test_no_ack_ends_the_call_with_bye_after_64_t1():
    world, alice, bob = pair(32)
    world.sim.net.drop = lambda src, dst, data: data.startswith(b"ACK ")
    alice.ua.call("bob", world.now)
    assert world.run_until(has(bob, ev.INCOMING))
    start = world.now
    last_session(bob).answer(world.now)
    assert world.run_until(has(bob, ev.DISCONNECTED))
    assert 31.9 < world.now - start < 33
    assert events(bob, ev.DISCONNECTED)[0].cause == "no ACK for 2xx"
    assert bob.sent("BYE")
    assert world.run_until(has(alice, ev.DISCONNECTED))


def test_cancel_waits_for_a_provisional_then_gets_487():
    world, alice, bob = pair(41)
    session = alice.ua.call("bob", world.now)
    assert session.hang_up(world.now)          # nothing heard yet: CANCEL must wait
    world.sim.flush()
    assert alice.sent("CANCEL") == []
    assert world.run_until(has(alice, ev.ENDED))
    assert len(alice.sent("CANCEL")) == 1      # sent after bob's 100 Trying
    assert events(alice, ev.ENDED)[0].status == 487
    assert bob.sent(" 487 ")
    assert events(bob, ev.DISCONNECTED)[0].cause == "cancelled"
    # The 487 was ACKed by alice's INVITE transaction.
    assert world.run_until(lambda: len(world.proxy.methods("ACK")) >= 1)


def test_cancel_crossing_a_2xx_acks_then_byes():
    world, alice, bob = pair(42)
    session = alice.ua.call("bob", world.now)
    assert world.run_until(has(bob, ev.INCOMING))
    incoming = last_session(bob)
    incoming.ring(world.now)
    assert world.run_until(has(alice, ev.PROGRESS))
    # Both act at the same instant: bob answers while alice cancels.
    incoming.answer(world.now)
    session.hang_up(world.now)
    assert world.run_until(lambda: has(alice, ev.ENDED)() and has(bob, ev.DISCONNECTED)())
    assert alice.sent("CANCEL") and alice.sent("ACK") and alice.sent("BYE")
    assert ev.CONNECTED not in alice.names()


def test_forked_2xx_responses_are_acked_and_the_extra_dialog_ended():
    world = World(51, min_delay=0.02, max_delay=0.02)     # no reordering here
    alice = world.phone("alice")
    bob1 = world.phone("bob")
    bob2 = world.phone("bob")
    assert world.registered(alice, bob1, bob2)
    assert len(world.proxy.bindings["bob"]) == 2
    alice.ua.call("bob", world.now)
    assert world.run_until(lambda: has(bob1, ev.INCOMING)() and has(bob2, ev.INCOMING)())
    last_session(bob1).answer(world.now)
    last_session(bob2).answer(world.now)
    assert world.run_until(lambda: has(bob1, ev.CONNECTED)() and has(bob2, ev.CONNECTED)())
    assert world.run_until(lambda: ev.DISCONNECTED in bob1.names() + bob2.names())
    assert len(events(alice, ev.CONNECTED)) == 1
    acks = alice.sent("ACK")
    assert len(set([a.to_addr().tag for a in acks])) == 2
    byes = alice.sent("BYE")
    assert len(byes) == 1
    session = events(alice, ev.CONNECTED)[0].session
    assert byes[0].to_addr().tag != session.dialog.remote_tag
    assert len(alice.ua.sessions) == 1


def test_hold_and_resume_re_invite_in_both_directions():
    world, alice, bob = pair(61)
    session, incoming = call_setup(world, alice, bob)
    assert session.hold(world.now)
    assert world.run_until(has(alice, ev.MEDIA))
    reinvite = alice.sent("INVITE")[-1]
    assert b"a=sendonly" in reinvite.body
    assert reinvite.cseq()[0] == session.invite.cseq()[0] + 1
    assert events(alice, ev.MEDIA)[0].cause == "hold"
    assert session.negotiated.direction == "sendonly"
    assert world.run_until(has(bob, ev.MEDIA))
    assert incoming.negotiated.direction == "recvonly"
    assert world.run_until(lambda: incoming.pending_2xx is None)   # alice's ACK came
    # Now bob holds and resumes too (the callee's own re-INVITE).
    assert incoming.hold(world.now)
    assert world.run_until(has(bob, ev.MEDIA, 2))
    assert incoming.negotiated.direction == "inactive"
    assert incoming.resume(world.now)
    assert world.run_until(has(bob, ev.MEDIA, 3))
    assert session.resume(world.now)
    assert world.run_until(has(alice, ev.MEDIA, 4))
    assert session.negotiated.direction == "sendrecv"
    assert bob.sent("INVITE")[-1].cseq()[1] == "INVITE"


def test_glare_gets_491_and_both_re_invites_succeed_after_back_off():
    world, alice, bob = pair(71)
    session, incoming = call_setup(world, alice, bob)
    assert session.hold(world.now)
    assert incoming.hold(world.now)
    assert world.run_until(lambda: ev.MEDIA in [e.name for e in alice.events
                                                  if e.cause == "hold"]
                           and ev.MEDIA in [e.name for e in bob.events if e.cause == "hold"])
    assert alice.sent(" 491 ") and bob.sent(" 491 ")
    assert len(alice.sent("INVITE")) >= 3 or len(bob.sent("INVITE")) >= 2
    assert session.state == incoming.state == "confirmed"


def test_far_end_bye_disconnects_and_re_invite_after_it_gets_481():
    world, alice, bob = pair(81)
    session, incoming = call_setup(world, alice, bob)
    dialog = session.dialog
    incoming.hang_up(world.now)
    assert world.run_until(has(alice, ev.DISCONNECTED))
    assert events(alice, ev.DISCONNECTED)[0].cause == "remote hung up"
    assert world.run_until(has(bob, ev.ENDED))
    # A stale in-dialog request is refused with 481.
    stale = dialog.create_request("INFO")
    alice.ua.send_request(stale, alice.ua, world.now)
    world.run_until(lambda: bob.sent(" 481 ") != [])
    assert bob.sent(" 481 ")


def test_re_invite_answered_481_ends_the_call():
    world, alice, bob = pair(82)
    session, incoming = call_setup(world, alice, bob)
    bob.ua.session_ended(incoming)               # bob forgets the dialog silently
    assert session.hold(world.now)
    assert world.run_until(has(alice, ev.DISCONNECTED))
    gone = events(alice, ev.DISCONNECTED)[0]
    assert gone.status == 481


def test_malformed_sdp_offer_gets_400_and_is_not_offered():
    world, alice, bob = pair(91)
    session = alice.ua.call("bob", world.now)
    session.invite.body = b"v=0\r\nthis is not sdp\r\n"
    world.run_until(has(alice, ev.FAILED))
    failed = events(alice, ev.FAILED)[0]
    assert failed.status in (400, 488)
    assert ev.INCOMING not in bob.names()


def test_offer_without_common_codec_gets_488():
    world = World(92)
    alice = world.phone("alice", codecs=("PCMA",))
    bob = world.phone("bob", codecs=("PCMU",))
    assert world.registered(alice, bob)
    alice.ua.call("bob", world.now)
    assert world.run_until(has(alice, ev.FAILED))
    assert events(alice, ev.FAILED)[0].status == 488
    assert ev.INCOMING not in bob.names()


def test_bad_sdp_answer_fails_the_call_and_ends_it_with_bye():
    world, alice, bob = pair(93)
    alice.ua.call("bob", world.now)
    assert world.run_until(has(bob, ev.INCOMING))
    incoming = last_session(bob)
    incoming.answer_body = b"v=0\r\nbroken\r\n"
    incoming.answer(world.now)
    assert world.run_until(has(alice, ev.FAILED))
    assert "bad SDP answer" in events(alice, ev.FAILED)[0].cause
    assert alice.sent("ACK") and alice.sent("BYE")
    assert world.run_until(has(bob, ev.DISCONNECTED))


def test_a_phone_may_ring_for_minutes_refreshing_its_180():
    world, alice, bob = pair(94)
    session = alice.ua.call("bob", world.now)
    assert world.run_until(has(bob, ev.INCOMING))
    incoming = last_session(bob)
    incoming.ring(world.now)
    world.sim.run(300.0)
    assert len(bob.sent(" 180 ")) >= 5                 # one a minute (13.3.1.1)
    assert session.state == "early" and incoming.state == "ringing"
    incoming.answer(world.now)
    assert world.run_until(lambda: has(alice, ev.CONNECTED)() and has(bob, ev.CONNECTED)())
