"""Call control: the reference call flows between simulated phones."""

import sys

_HERE = __file__.rpartition("/")[0] if "/" in __file__ else "."
_CORE = _HERE + "/../core"
if _CORE not in sys.path:
    sys.path.append(_CORE)

from firmware.app import callcontrol as cc  # noqa: E402
from firmware.app.callcontrol import CallControl, CallEvent  # noqa: E402
from firmware.core.commands import PROXY, Send  # noqa: E402
from simphones import World  # noqa: E402


def controlled(world, user, **options):
    node = world.phone(user, **options)
    node.cc = CallControl(node.ua)
    return node


def two_phones(seed=1, **world_options):
    world = World(seed, **world_options)
    alice = controlled(world, "alice")
    bob = controlled(world, "bob")
    assert world.run_until(lambda: "REGISTERED" in alice.names() and "REGISTERED" in bob.names())
    return world, alice, bob


def named(node, name):
    return [e for e in node.events if e.name == name]


def until(world, node, name, count=1, limit=600.0):
    return world.run_until(lambda: node.names().count(name) >= count, limit)


def test_outbound_reference_flow():
    world, alice, bob = two_phones()
    number = alice.cc.make_call("bob")
    assert alice.cc.state(number) == cc.DIALING
    world.sim.flush()
    invites = [c for c in alice.commands
               if isinstance(c, Send) and c.message.is_request and c.message.method == "INVITE"]
    assert invites and invites[0].target is PROXY
    assert until(world, bob, cc.OFFERED)
    offered = named(bob, cc.OFFERED)[0]
    assert bob.cc.answer_call(offered.call)
    assert until(world, alice, cc.CONNECTED)
    connected = named(alice, cc.CONNECTED)[0]
    assert str(connected) == "CONNECTED call=%d remote=sip:bob@sim.test" % number
    assert connected.media.codec == "PCMU"
    assert alice.sent("ACK")
    assert alice.cc.state(number) == cc.CONNECTED
    assert until(world, bob, cc.CONNECTED)

    assert alice.cc.drop_call(number)
    assert until(world, alice, cc.DROPCALL)
    assert alice.sent("BYE")
    assert alice.cc.state(number) == cc.IDLE
    assert alice.cc.release_call(number)
    world.sim.flush()
    assert alice.names()[-2:] == [cc.DROPCALL, cc.RELEASECALL]
    assert alice.cc.state(number) == cc.NULL
    assert alice.cc.calls == []
    assert until(world, bob, cc.DISCONNECTED)


def test_inbound_reference_flow_and_far_end_bye():
    world, alice, bob = two_phones(seed=2)
    alice.cc.make_call("sip:bob@sim.test", "Alice")
    assert until(world, bob, cc.OFFERED)
    call = named(bob, cc.OFFERED)[0].call
    assert str(named(bob, cc.OFFERED)[0]).startswith("OFFERED call=%d remote=sip:alice@" % call)
    assert named(bob, cc.OFFERED)[0].display == "Alice"      # the caller's name for the screen
    assert bob.cc.accept_call(call)
    assert bob.cc.state(call) == cc.ACCEPTED
    assert until(world, alice, cc.ALERTING)
    assert named(alice, cc.ALERTING)[0].status == 180
    assert bob.cc.answer_call(call)
    assert until(world, bob, cc.CONNECTED)
    assert until(world, alice, cc.CONNECTED)
    assert bob.names()[-3:] == [cc.OFFERED, cc.ACCEPT, cc.CONNECTED]

    alice.cc.drop_call(named(alice, cc.CONNECTED)[0].call)
    assert until(world, bob, cc.DISCONNECTED)
    assert bob.cc.state(call) == cc.DISCONNECTED
    assert bob.cc.drop_call(call)
    assert bob.cc.state(call) == cc.IDLE
    assert bob.cc.release_call(call)
    world.sim.flush()
    assert bob.names()[-3:] == [cc.DISCONNECTED, cc.DROPCALL, cc.RELEASECALL]


def test_rejected_call_gives_taskfail_with_status_and_cause():
    world, alice, bob = two_phones(seed=3)
    number = alice.cc.make_call("bob")
    assert until(world, bob, cc.OFFERED)
    bob.cc.drop_call(named(bob, cc.OFFERED)[0].call)
    world.sim.flush()
    assert bob.names()[-1] == cc.DROPCALL
    assert until(world, alice, cc.TASKFAIL)
    fail = named(alice, cc.TASKFAIL)[0]
    assert fail.status == 486
    assert str(fail) == 'TASKFAIL call=%d remote=sip:bob@sim.test status=486 cause="Busy Here"' \
        % number
    assert alice.cc.state(number) == cc.IDLE
    assert alice.cc.release_call(number)


def test_unanswered_request_gives_taskfail_408():
    world = World(4)
    alice = controlled(world, "alice")
    assert until(world, alice, cc.REGISTERED)
    # A binding for a phone that is not there: the INVITE goes nowhere.
    world.proxy.users["ghost"] = "pw-ghost"
    from simproxy import Binding
    world.proxy.bindings["ghost"] = [Binding("sip:ghost@10.0.0.99:5060", "10.0.0.99:5060",
                                             1e9, None)]
    start = world.now
    number = alice.cc.make_call("ghost")
    assert until(world, alice, cc.TASKFAIL)
    fail = named(alice, cc.TASKFAIL)[0]
    assert fail.status == 408 and fail.cause == "timeout"
    assert 31.9 < world.now - start < 32.5           # timer B = 64 * T1
    assert alice.cc.state(number) == cc.IDLE


def test_functions_in_wrong_states_give_taskfail_not_exceptions():
    world, alice, bob = two_phones(seed=5)
    number = alice.cc.make_call("bob")
    assert not alice.cc.answer_call(number)
    assert not alice.cc.release_call(number)
    assert not alice.cc.hold_call(number)
    assert not alice.cc.drop_call(99)
    fails = named(alice, cc.TASKFAIL)
    world.sim.flush()
    fails = named(alice, cc.TASKFAIL)
    assert len(fails) == 4
    assert fails[0].cause == "answer_call: not allowed in state DIALING"
    assert fails[3].call == 99 and "no call 99" in fails[3].cause
    assert until(world, bob, cc.OFFERED)
    incoming = named(bob, cc.OFFERED)[0].call
    assert bob.cc.answer_call(incoming)
    assert not bob.cc.answer_call(incoming)          # the 200 is already out
    assert not bob.cc.accept_call(incoming)
    assert until(world, alice, cc.CONNECTED)
    assert not alice.cc.resume_call(number)          # not on hold
    assert not alice.cc.release_call(number)
    world.sim.flush()
    assert len(named(alice, cc.TASKFAIL)) == 6
    assert alice.cc.state(number) == cc.CONNECTED


def test_bad_destination_fails_the_call_at_once():
    world, alice, bob = two_phones(seed=6)
    number = alice.cc.make_call("sip:bob@")
    world.sim.flush()
    fail = named(alice, cc.TASKFAIL)
    assert len(fail) == 1 and fail[0].cause.startswith("make_call: bad destination")
    assert alice.cc.state(number) == cc.IDLE
    assert alice.cc.release_call(number)


def test_drop_while_alerting_cancels_and_callee_sees_disconnected():
    world, alice, bob = two_phones(seed=7)
    number = alice.cc.make_call("bob")
    assert until(world, bob, cc.OFFERED)
    bob.cc.accept_call(named(bob, cc.OFFERED)[0].call)
    assert until(world, alice, cc.ALERTING)
    assert alice.cc.drop_call(number)
    assert not alice.cc.drop_call(number)            # already dropping
    assert until(world, alice, cc.DROPCALL)
    assert alice.sent("CANCEL")
    assert named(alice, cc.DROPCALL)[0].status == 487
    assert until(world, bob, cc.DISCONNECTED)
    gone = named(bob, cc.DISCONNECTED)[0]
    assert gone.status == 487 and gone.cause == "cancelled"


def test_hold_and_resume():
    world, alice, bob = two_phones(seed=8)
    number = alice.cc.make_call("bob")
    assert until(world, bob, cc.OFFERED)
    bob.cc.answer_call(named(bob, cc.OFFERED)[0].call)
    assert until(world, alice, cc.CONNECTED)
    assert alice.cc.hold_call(number)
    assert not alice.cc.hold_call(number)            # re-INVITE in progress
    assert until(world, alice, cc.HOLDACK)
    assert named(alice, cc.HOLDACK)[0].direction == "sendonly"
    assert until(world, bob, cc.MEDIA)
    assert named(bob, cc.MEDIA)[0].direction == "recvonly"
    assert alice.cc.resume_call(number)
    assert until(world, alice, cc.RESUMEACK)
    assert named(alice, cc.RESUMEACK)[0].direction == "sendrecv"
    assert alice.cc.state(number) == cc.CONNECTED


def test_registration_events_and_shutdown():
    world = World(9)
    alice = controlled(world, "alice")
    assert until(world, alice, cc.REGISTERED)
    assert alice.names()[:2] == [cc.REGISTERING, cc.REGISTERED]
    assert str(named(alice, cc.REGISTERED)[0]) == "REGISTERED status=200 expires=600"
    alice.cc.shutdown()
    assert until(world, alice, cc.UNREGISTERED)
    assert world.proxy.bindings["alice"] == []


def test_event_text_quotes_causes_with_spaces():
    event = CallEvent(cc.DISCONNECTED, 3, "sip:friend@remote.test", None, "remote hung up")
    assert str(event) == 'DISCONNECTED call=3 remote=sip:friend@remote.test cause="remote hung up"'
    assert str(CallEvent(cc.CONNECTED, 1, "sip:friend@remote.test")) == \
        "CONNECTED call=1 remote=sip:friend@remote.test"


def test_proceeding_then_alerting_when_the_callee_is_slow():
    world, alice, bob = two_phones(seed=10)
    number = alice.cc.make_call("bob")
    assert until(world, bob, cc.OFFERED)
    world.sim.run(1.0)                               # bob's stack sends 100 Trying
    assert until(world, alice, cc.PROCEEDING)
    assert alice.cc.state(number) == cc.PROCEEDING
    bob.cc.accept_call(named(bob, cc.OFFERED)[0].call)
    assert until(world, alice, cc.ALERTING)
    assert alice.names()[-2:] == [cc.PROCEEDING, cc.ALERTING]
    assert alice.cc.state(number) == cc.ALERTING


def test_refused_hold_gives_holdrej_and_the_call_stays_up():
    from firmware.core.sdp import SdpError

    world, alice, bob = two_phones(seed=11)
    number = alice.cc.make_call("bob")
    assert until(world, bob, cc.OFFERED)
    bob.cc.answer_call(named(bob, cc.OFFERED)[0].call)
    assert until(world, alice, cc.CONNECTED) and until(world, bob, cc.CONNECTED)
    session = bob.cc.call(named(bob, cc.OFFERED)[0].call).session

    class Refusing:
        """Bob's media side, refusing every new offer."""

        def __init__(self, media):
            self.media = media
            self.direction = media.direction

        def receive_offer(self, data):
            raise SdpError(488, "Not Acceptable Here")

    session.media = Refusing(session.media)
    assert alice.cc.hold_call(number)
    assert until(world, alice, cc.HOLDREJ)
    rej = named(alice, cc.HOLDREJ)[0]
    assert rej.status == 488
    assert alice.cc.state(number) == cc.CONNECTED
    assert not alice.cc.call(number).held


def test_early_media_gives_earlymedia_after_alerting_and_connected_keeps_its_media():
    from firmware.core.message import make_response
    from netsim import RawNode

    world = World(12, auth=False)
    alice = controlled(world, "alice", proxy_address=None, start=False)
    tester = world.sim.add(RawNode("10.0.0.50", 5060))
    number = alice.cc.make_call("sip:tester@10.0.0.50:5060", now=world.now)
    assert world.run_until(lambda: tester.requests("INVITE"), 5)
    invite = tester.requests("INVITE")[0]
    sdp = ("v=0\r\no=- 2 2 IN IP4 10.0.0.50\r\ns=-\r\nc=IN IP4 10.0.0.50\r\nt=0 0\r\n"
           "m=audio 7000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n").encode()
    for status in (183, 200):
        response = make_response(invite, status, to_tag="t1")
        response.headers.add("Contact", "<sip:tester@10.0.0.50:5060>")
        response.headers.add("Content-Type", "application/sdp")
        response.body = sdp
        tester.send("10.0.0.11:5060", response.serialize())
        assert until(world, alice, cc.EARLYMEDIA if status == 183 else cc.CONNECTED, limit=5)
        if status == 183:
            assert alice.names()[-2:] == [cc.ALERTING, cc.EARLYMEDIA]
            early = named(alice, cc.EARLYMEDIA)[0]
            assert early.call == number and early.direction == "sendrecv"
            assert early.media.codec == "PCMA" and early.media.remote_port == 7000
            assert alice.cc.state(number) == cc.ALERTING
            assert alice.cc.call(number).media is early.media
    assert named(alice, cc.CONNECTED)[0].media is named(alice, cc.EARLYMEDIA)[0].media
