"""Phones worked by hand, end to end: keypad, hook switch, display, LEDs, ringer, tones.

Rule: two (or one) simulated phones, each the firmware's runtime and handset
application on the simulated board, call each other through a real Kamailio
over TLS (tools/phonesim --phones). The scenario holds the expectations a
person would check at the phone; the test then checks what phonesim reported
and the call logs the phones stored.
"""

from simsupport import SimSetup


def _setup(tmp_path, proxy, certs, bob=None, alice=None):
    return SimSetup(tmp_path, proxy, certs, {"alice": ("2001", alice or {}),
                                             "bob": ("2002", bob or {})})


def test_dial_by_keypad_answer_by_lifting_hang_up_by_replacing(tmp_path, proxy, certs):
    sim = _setup(tmp_path, proxy, certs)
    result = sim.run("""
alice: wait REGISTERED 5
bob: wait REGISTERED 5
alice: expect display Registered
alice: expect led line off
alice: offhook
alice: expect tone dial
alice: expect led line on
alice: expect display Dial
alice: press 2002
alice: expect display 2002
alice: expect tone none          # the first key ends the dial tone
alice: press #
bob: wait OFFERED 5
bob: expect ringing
bob: expect led ringing blink
bob: expect display Incoming call
bob: expect display 2001
alice: wait ALERTING 5
alice: expect tone ringback
alice: expect display Ringing
bob: offhook                     # answer
bob: wait CONNECTED 5
alice: wait CONNECTED 5
bob: expect ringer off
bob: expect led ringing off
alice: expect tone none
alice: wait display "00:01" 3
bob: wait display "00:01" 2   # bob connected a moment after alice
alice: onhook                    # hang up
bob: wait DISCONNECTED 5
bob: expect tone busy
bob: expect display Call ended
alice: wait RELEASECALL 5
alice: expect display Registered
alice: expect led line off
bob: onhook
bob: wait RELEASECALL 5
bob: expect tone none
quit
""")
    assert result.code == 0, result.output
    assert "PASS all expectations held" in result.output
    # what the phones reported on the way: the keys, then the INVITE it made
    keys = [e.field("key") for e in result.of("alice", "KEY")]
    assert keys == ["2", "0", "0", "2", "#"]
    assert result.of("alice", "CONNECTED")[0].field("remote") == "sip:2002@example.test"
    assert result.of("bob", "OFFERED")[0].field("remote") == "sip:2001@example.test"
    # both call logs were written, atomically, and say what happened
    alice_log = sim.call_log("alice")
    bob_log = sim.call_log("bob")
    assert [(e.direction, e.status, e.number) for e in alice_log.entries] == [
        ("out", "answered", "2002")]
    assert alice_log.entries[0].duration >= 1
    assert [(e.direction, e.status) for e in bob_log.entries] == [("in", "answered")]
    assert bob_log.entries[0].uri == "sip:2001@example.test"


def test_a_phone_with_its_handset_lifted_is_busy(tmp_path, proxy, certs):
    sim = _setup(tmp_path, proxy, certs)
    result = sim.run("""
alice: wait REGISTERED 5
bob: wait REGISTERED 5
bob: offhook
bob: expect tone dial
alice: offhook
alice: press 2002#
bob: wait OFFERED 5
alice: wait TASKFAIL 5
alice: expect display Busy
alice: expect tone busy
bob: expect tone dial            # bob still has his dial tone; his phone never rang
bob: expect ringer off
alice: onhook
bob: onhook
bob: wait RELEASECALL 5
quit
""")
    assert result.code == 0, result.output
    failed = result.of("alice", "TASKFAIL")[0]
    assert failed.field("status") == "486"
    assert not result.of("bob", "RINGER")          # never rang, not even briefly
    assert [(e.direction, e.status) for e in sim.call_log("alice").entries] == [
        ("out", "busy")]
    entry = sim.call_log("bob").entries[0]
    assert (entry.direction, entry.status, entry.reason) == ("in", "refused", "busy")


def test_do_not_disturb_refuses_calls_and_shows_them_missed(tmp_path, proxy, certs):
    sim = _setup(tmp_path, proxy, certs, bob={"dnd": True})
    result = sim.run("""
alice: wait REGISTERED 5
bob: wait REGISTERED 5
bob: expect display Do not disturb
bob: expect led message off
alice: offhook
alice: press 2002#
bob: wait OFFERED 5
alice: wait TASKFAIL 5
alice: expect display Busy
alice: expect tone busy
bob: expect ringer off
bob: expect display 1 missed call
bob: expect led message blink
alice: onhook
bob: offhook                     # looking at the phone: the missed call is seen
bob: expect led message off
bob: onhook
bob: expect display Do not disturb
quit
""")
    assert result.code == 0, result.output
    assert result.of("alice", "TASKFAIL")[0].field("status") == "486"
    assert not result.of("bob", "RINGER")
    entry = sim.call_log("bob").entries[0]
    assert (entry.direction, entry.status, entry.reason, entry.new) == (
        "in", "refused", "dnd", False)


def test_keys_pressed_in_a_call_reach_the_far_phone_as_dtmf(tmp_path, proxy, certs):
    sim = _setup(tmp_path, proxy, certs)
    result = sim.run("""
alice: wait REGISTERED 5
bob: wait REGISTERED 5
alice: offhook
alice: press 2002#
bob: wait OFFERED 5
bob: offhook
alice: wait CONNECTED 5
bob: wait CONNECTED 5
alice: press 19*#
bob: wait DTMF 5
bob: wait DTMF 5
bob: wait DTMF 5
bob: wait DTMF 5
bob: press 7
alice: wait DTMF 5
alice: expect display 2002      # keys in a call are not dialled
alice: onhook
bob: wait DISCONNECTED 5
bob: onhook
quit
""")
    assert result.code == 0, result.output
    assert [e.field("digit") for e in result.of("alice", "DTMF_SENT")] == ["1", "9", "*", "#"]
    assert [e.field("digit") for e in result.of("bob", "DTMF")] == ["1", "9", "*", "#"]
    assert [e.field("digit") for e in result.of("alice", "DTMF")] == ["7"]
    # the digits travelled as RTP between the phones' own media ports
    started = result.of("bob", "RTP_START")[0]
    assert started.field("dtmf") == "101"


def test_an_expectation_that_does_not_hold_fails_the_run(tmp_path, proxy, certs):
    sim = SimSetup(tmp_path, proxy, certs, {"alice": ("2001", {})})
    result = sim.run("""
wait REGISTERED 5
expect tone dial                 # the handset is still down
quit
""")
    assert result.code == 1, result.output
    assert "FAIL expected tone dial; the tone is none" in result.output
    refused = sim.run("press 2002#\ncall sip:2002@example.test\n")
    assert refused.code == 2
    assert "call drives call control directly" in refused.output
