"""The handset state machine: whole interaction sequences on a virtual clock."""

import json
import sys

from firmware.app import callcontrol as cc
from firmware.app.callcontrol import CallEvent
from firmware.app.calllog import ANSWERED, BUSY, CANCELLED, FAILED, MISSED, REFUSED, CallLog
from firmware.app.handset import Handset
from firmware.app.handsetio import (LED_BLINK, LED_OFF, LED_ON, AcceptCall, AnswerCall, DropCall,
                                    HoldCall, MakeCall, PlayTone, ReleaseCall, ResumeCall,
                                    RingerOff, RingerOn, SaveCallLog, SendDtmf, SetLed,
                                    ShowScreen, run_commands, seconds_pairs)
from firmware.app.handsetstate import CALLING, DIALING, DIALTONE, IDLE, NOTICE, RINGING, TALKING
from firmware.core import tones

PLAN = "[2-9]xxx|0[1-9]xxxxxxxx|00x.|*xx|#"
WALL = (2025, 11, 26, 9, 30, 0)
BOB = "sip:bob@example.com"
CAROL = "sip:carol@example.com"

# The simulated network and proxy of the core tests (for the last tests here).
_HERE = __file__.rpartition("/")[0] if "/" in __file__ else "."
_CORE = _HERE + "/../core"
if _CORE not in sys.path:
    sys.path.append(_CORE)


class Rig:
    """A handset on a virtual clock; every output is kept in ``out``."""

    def __init__(self, width=16, height=2, call_log=None, **phone):
        settings = {"dial_plan": PLAN, "digit_timeout_s": 4, "region": "eu"}
        settings.update(phone)
        config = {"account": {"user": "alice", "domain": "example.com",
                              "display_name": "Alice"},
                  "phone": settings}
        self.now = 100.0
        self.handset = Handset(config, width, height, call_log, now=self.now)
        self.handset.start(self.now, WALL)
        self.out = []
        self.next_call = 1
        self.drain()

    def drain(self):
        batch = self.handset.commands()
        self.out.extend(batch)
        return batch

    def advance(self, seconds):
        """Run the clock forward, firing every deadline on the way."""
        end = self.now + seconds
        fired = []
        while True:
            deadline = self.handset.next_deadline()
            if deadline is None or deadline > end:
                break
            assert deadline >= self.now - 1e-9, "a deadline in the past: %r" % deadline
            self.now = deadline
            self.handset.on_timer(self.now)
            fired.extend(self.drain())
        self.now = end
        return fired

    def lift(self):
        self.handset.off_hook(self.now)
        return self.drain()

    def hang_up(self):
        self.handset.on_hook(self.now)
        return self.drain()

    def press(self, keys):
        got = []
        for key in ([keys] if keys.isalpha() else keys):
            self.handset.key_down(key, self.now)
            got.extend(self.drain())
        return got

    def event(self, name, call=None, remote=None, status=None, cause=None, state=None):
        self.handset.call_event(CallEvent(name, call, remote, status, cause, state), self.now)
        return self.drain()

    def placed(self, out):
        """Play make_call: give the MakeCall in ``out`` the next call number."""
        makes = of(out, MakeCall)
        assert len(makes) == 1, out
        number = self.next_call
        self.next_call += 1
        self.handset.placed(makes[0], number, self.now)
        self.drain()
        return number

    @property
    def lines(self):
        return [line.rstrip() for line in self.handset.screen.lines]

    def led(self, name):
        state = None
        for item in self.out:
            if isinstance(item, SetLed) and item.name == name:
                state = item.state
        return state


def of(out, cls):
    return [item for item in out if isinstance(item, cls)]


def calls(out):
    return [item for item in out if item.kind == "call"]


def tone_names(out):
    return [item.name if isinstance(item, PlayTone) else "stop"
            for item in out if item.kind == "tone"]


def connected_outgoing(rig, keys="2345"):
    """Lift, dial ``keys`` (a complete match), ringback, answer: the call's number."""
    rig.lift()
    out = rig.press(keys)
    number = rig.placed(out)
    rig.event(cc.ALERTING, number, status=180)
    rig.event(cc.CONNECTED, number)
    return number


def ringing_incoming(rig, number=7, remote=BOB):
    out = rig.event(cc.OFFERED, number, remote)
    assert calls(out) == [AcceptCall(number)]
    return number


# -- start and idle ----------------------------------------------------------------------


def test_start_shows_the_idle_screen_and_puts_every_led_out():
    rig = Rig()
    assert rig.lines == ["Alice      09:30", ""]
    assert of(rig.out, SetLed) == [SetLed("line", LED_OFF), SetLed("ringing", LED_OFF),
                                   SetLed("message", LED_OFF)]
    assert rig.handset.mode == IDLE
    assert tone_names(rig.out) == []


def test_idle_screen_shows_registration_state_and_a_running_clock():
    rig = Rig()
    rig.event(cc.REGISTERING)
    assert rig.lines[1] == "Registering..."
    rig.event(cc.REGISTERED)
    assert rig.lines == ["Alice      09:30", "Registered"]
    # the wall clock handed in at 09:30:00; the minute turns 60 s later
    assert rig.handset.next_deadline() == rig.now + 60
    fired = rig.advance(61)
    assert of(fired, ShowScreen)[-1].lines[0] == "Alice      09:31"
    rig.handset.set_wall_clock((2025, 11, 26, 17, 4, 50), rig.now)
    rig.drain()
    assert rig.lines[0] == "Alice      17:04"
    assert abs(rig.handset.next_deadline() - (rig.now + 10)) < 1e-6
    rig.advance(10)
    assert rig.lines[0] == "Alice      17:05"
    rig.event(cc.REGFAIL, status=403, cause="Forbidden")
    assert rig.lines[1] == "No service 403"
    rig.event(cc.UNREGISTERED)
    assert rig.lines[1] == "Not registered"


# -- outgoing -------------------------------------------------------------------------------


def test_outgoing_call_from_dial_tone_to_hang_up():
    rig = Rig()
    out = rig.lift()
    assert tone_names(out) == ["dial"]
    assert of(out, PlayTone)[0].tone is tones.tone("eu", "dial")
    assert SetLed("line", LED_ON) in out
    assert rig.lines == ["Dial", ""]
    assert rig.handset.mode == DIALTONE

    out = rig.press("0")
    assert tone_names(out) == ["stop"]
    out = rig.press("049301234")
    assert calls(out) == [] and tone_names(out) == []
    assert rig.lines == ["Dial", "0049301234"]
    assert rig.handset.mode == DIALING
    # 00x. matches but could go on: only the inter-digit timeout sends it
    assert rig.advance(3.9) == []
    out = rig.advance(0.2)
    assert calls(out) == [MakeCall("sip:0049301234@example.com")]
    assert rig.lines == ["Calling", "0049301234"]
    number = rig.placed(out)

    out = rig.event(cc.PROCEEDING, number, status=100)
    assert tone_names(out) == []
    out = rig.event(cc.ALERTING, number, status=180)
    assert tone_names(out) == ["ringback"]
    assert rig.lines == ["Ringing", "0049301234"]

    out = rig.event(cc.CONNECTED, number)
    assert tone_names(out) == ["stop"]
    assert rig.handset.mode == TALKING
    assert rig.lines == ["0049301234 00:00", "0049301234@examp"]
    rig.advance(65)
    assert rig.lines[0] == "0049301234 01:05"

    out = rig.press("5")
    assert of(out, SendDtmf) == [SendDtmf(number, "5")]
    out = rig.press("#")
    assert of(out, SendDtmf) == [SendDtmf(number, "#")]

    out = rig.hang_up()
    assert calls(out) == [DropCall(number)]
    assert SetLed("line", LED_OFF) in out
    assert rig.handset.mode == IDLE
    assert rig.lines[0] == "Alice      09:31"
    out = rig.event(cc.DROPCALL, number, state=cc.IDLE)
    assert calls(out) == [ReleaseCall(number)]
    out = rig.event(cc.RELEASECALL, number, state=cc.NULL)
    assert out == [] and rig.handset.lines == []

    entry = rig.handset.log.entries[0]
    assert (entry.direction, entry.status, entry.number, entry.duration) == \
        ("out", ANSWERED, "0049301234", 65)
    assert entry.uri == "sip:0049301234@example.com"
    assert entry.when == (2025, 11, 26, 9, 30, 4)
    saved = of(rig.out, SaveCallLog)[-1]
    assert CallLog.from_json(saved.text).entries == rig.handset.log.entries


def test_a_complete_match_dials_at_once():
    rig = Rig()
    rig.lift()
    out = rig.press("2345")
    assert calls(out) == [MakeCall("sip:2345@example.com")]
    assert rig.handset.mode == CALLING
    assert rig.handset.next_deadline() is None  # no timer while calling


def test_hash_sends_what_was_dialled_at_once():
    rig = Rig()
    rig.lift()
    rig.press("0049")
    out = rig.press("#")
    assert calls(out) == [MakeCall("sip:0049@example.com")]
    # a plan that takes '#' as a key keeps it
    rig = Rig(dial_plan="*xx#|*xx")
    rig.lift()
    out = rig.press("*72#")
    assert calls(out) == [MakeCall("sip:*72%23@example.com")]
    # with no plan, '#' ends any number
    rig = Rig(dial_plan="")
    rig.lift()
    out = rig.press("123#")
    assert calls(out) == [MakeCall("sip:123@example.com")]


def test_a_lone_hash_in_the_plan_is_dialled():
    rig = Rig()
    rig.lift()
    out = rig.press("#")
    assert calls(out) == [MakeCall("sip:%23@example.com")]


def test_substitutions_build_the_uri():
    rig = Rig(dial_plan="<9:>[2-9]xxxxxx|<*0:sip:conf@meet.example>")
    rig.lift()
    assert calls(rig.press("95551234")) == [MakeCall("sip:5551234@example.com")]
    rig.hang_up()
    rig.lift()
    assert calls(rig.press("*0")) == [MakeCall("sip:conf@meet.example")]


def test_a_number_outside_the_plan_gets_congestion():
    rig = Rig()
    rig.lift()
    out = rig.press("1")
    assert tone_names(out) == ["congestion"]  # straight from dial tone to congestion
    assert rig.lines == ["Invalid number", "1"]
    assert rig.handset.mode == NOTICE
    assert rig.press("2345") == []  # keys do nothing until the handset is replaced
    out = rig.hang_up()
    assert tone_names(out) == ["stop"]
    assert rig.handset.mode == IDLE


def test_incomplete_number_and_dial_timeout_get_congestion():
    rig = Rig()
    rig.lift()
    rig.press("01")
    out = rig.advance(4)
    assert tone_names(out) == ["congestion"]
    assert rig.lines == ["Too few digits", "01"]
    rig.hang_up()
    rig = Rig(first_digit_timeout_s=10)
    rig.lift()
    assert rig.advance(9.5) == []
    out = rig.advance(1)
    assert tone_names(out) == ["congestion"]
    assert rig.lines[0] == "Dial timeout"


def test_busy_gives_busy_tone_and_is_logged():
    for status in (486, 600):
        rig = Rig()
        rig.lift()
        number = rig.placed(rig.press("2345"))
        rig.event(cc.ALERTING, number, status=180)
        out = rig.event(cc.TASKFAIL, number, status=status, cause="Busy Here", state=cc.IDLE)
        assert calls(out) == [ReleaseCall(number)]
        assert tone_names(out) == ["busy"]
        assert rig.lines == ["Busy", "2345"]
        assert rig.handset.mode == NOTICE
        entry = rig.handset.log.entries[0]
        assert (entry.status, entry.reason) == (BUSY, "%d Busy Here" % status)
        out = rig.hang_up()
        assert tone_names(out) == ["stop"] and calls(out) == []


def test_failures_give_congestion_with_the_reason():
    for status, cause in ((404, "Not Found"), (480, "Temporarily Unavailable"),
                          (408, "timeout"), (503, "Service Unavailable"),
                          (500, "Server Internal Error"), (None, "transport error")):
        rig = Rig(height=4, width=20)
        rig.lift()
        number = rig.placed(rig.press("2345"))
        out = rig.event(cc.TASKFAIL, number, status=status, cause=cause, state=cc.IDLE)
        assert tone_names(out) == ["congestion"], (status, out)
        reason = ("%s %s" % (status or "", cause)).strip()
        assert rig.lines[:2] == ["Call failed", reason[:20].rstrip()]
        entry = rig.handset.log.entries[0]
        assert (entry.status, entry.reason) == (FAILED, reason)


def test_redial_after_busy_and_from_the_dial_tone():
    rig = Rig()
    rig.lift()
    number = rig.placed(rig.press("0301234567"))
    rig.event(cc.TASKFAIL, number, status=486, cause="Busy Here", state=cc.IDLE)
    out = rig.press("redial")
    assert calls(out) == [MakeCall("sip:0301234567@example.com")]
    assert tone_names(out) == ["stop"]
    number = rig.placed(out)
    rig.event(cc.TASKFAIL, number, status=486, cause="Busy Here", state=cc.IDLE)
    rig.hang_up()
    rig.lift()
    out = rig.press("redial")
    assert calls(out) == [MakeCall("sip:0301234567@example.com")]
    assert rig.lines == ["Calling", "0301234567"]


def test_redial_survives_a_restart_through_the_call_log():
    rig = Rig()
    connected_outgoing(rig, "4711")
    rig.hang_up()
    text = of(rig.out, SaveCallLog)[-1].text
    fresh = Rig(call_log=CallLog.from_json(text))
    fresh.lift()
    assert calls(fresh.press("redial")) == [MakeCall("sip:4711@example.com")]
    # nothing to redial: the dial tone just goes on
    empty = Rig()
    empty.lift()
    assert empty.press("redial") == [] and empty.handset.mode == DIALTONE


def test_hanging_up_while_calling_cancels_and_logs_it():
    rig = Rig()
    rig.lift()
    number = rig.placed(rig.press("2345"))
    rig.event(cc.ALERTING, number, status=180)
    out = rig.hang_up()
    assert calls(out) == [DropCall(number)]
    assert tone_names(out) == ["stop"]
    # the CANCEL ends the INVITE with 487: release quietly, no busy tone
    out = rig.event(cc.TASKFAIL, number, status=487, cause="Request Terminated",
                    state=cc.IDLE)
    assert calls(out) == [ReleaseCall(number)] and tone_names(out) == []
    assert rig.event(cc.DROPCALL, number, state=cc.IDLE) == []  # released once only
    assert rig.handset.log.entries[0].status == CANCELLED


def test_early_media_plays_instead_of_local_ringback():
    rig = Rig()
    rig.lift()
    number = rig.placed(rig.press("2345"))
    out = rig.event(cc.ALERTING, number, status=183)
    assert tone_names(out) == ["ringback"]  # 183 without SDP: nothing comes from the network
    out = rig.event(cc.EARLYMEDIA, number, status=None)
    assert tone_names(out) == ["stop"]
    assert rig.lines[0] == "Ringing"
    out = rig.event(cc.ALERTING, number, status=180)
    assert tone_names(out) == []  # a later 180 does not bring our ringback back


def test_far_end_hang_up_gives_busy_tone_until_on_hook():
    rig = Rig()
    number = connected_outgoing(rig)
    rig.advance(12)
    out = rig.event(cc.DISCONNECTED, number, status=None, cause="remote hung up",
                    state=cc.DISCONNECTED)
    assert calls(out) == [DropCall(number)]
    assert tone_names(out) == ["busy"]
    assert rig.lines == ["Call ended", "2345"]
    out = rig.event(cc.DROPCALL, number, state=cc.IDLE)
    assert calls(out) == [ReleaseCall(number)]
    out = rig.hang_up()
    assert tone_names(out) == ["stop"] and calls(out) == []
    assert rig.handset.log.entries[0].duration == 12


def test_hold_and_resume():
    rig = Rig()
    number = connected_outgoing(rig)
    out = rig.press("hold")
    assert calls(out) == [HoldCall(number)]
    rig.event(cc.HOLDACK, number)
    assert rig.lines[1] == "On hold"
    assert rig.led("line") == LED_BLINK
    assert rig.press("5") == []  # no DTMF into a held call
    out = rig.press("hold")
    assert calls(out) == [ResumeCall(number)]
    rig.event(cc.RESUMEACK, number)
    assert rig.led("line") == LED_ON
    assert rig.lines[1] == "2345@example.com"
    rig.press("hold")
    rig.event(cc.HOLDREJ, number, status=488)
    assert rig.lines[1] == "Hold failed"


# -- incoming -------------------------------------------------------------------------------


def test_incoming_call_rings_and_lifting_answers_replacing_hangs_up():
    rig = Rig()
    out = rig.event(cc.OFFERED, 7, BOB)
    assert calls(out) == [AcceptCall(7)]
    ringer = of(out, RingerOn)
    assert ringer == [RingerOn("eu", None)] and ringer[0].cadence == [(1.0, 4.0)]
    assert SetLed("ringing", LED_BLINK) in out
    assert rig.lines == ["Incoming call", "bob"]
    assert rig.handset.mode == RINGING

    out = rig.lift()
    assert calls(out) == [AnswerCall(7)]
    assert of(out, RingerOff) == [RingerOff()]
    assert SetLed("ringing", LED_OFF) in out and SetLed("line", LED_ON) in out
    assert tone_names(out) == []  # no dial tone when answering
    assert rig.lines == ["bob", "Connecting"]

    rig.event(cc.CONNECTED, 7, BOB)
    assert rig.lines == ["bob        00:00", "bob@example.com"]
    rig.advance(3)
    assert rig.lines[0] == "bob        00:03"
    assert of(rig.press("1"), SendDtmf) == [SendDtmf(7, "1")]

    out = rig.hang_up()
    assert calls(out) == [DropCall(7)]
    assert rig.handset.mode == IDLE
    assert calls(rig.event(cc.DROPCALL, 7, state=cc.IDLE)) == [ReleaseCall(7)]
    rig.event(cc.RELEASECALL, 7)
    entry = rig.handset.log.entries[0]
    assert (entry.direction, entry.status, entry.duration, entry.new) == \
        ("in", ANSWERED, 3, False)


def test_caller_gives_up_is_a_missed_call():
    rig = Rig(width=20, height=4)
    ringing_incoming(rig)
    out = rig.event(cc.DISCONNECTED, 7, BOB, 487, "cancelled", cc.DISCONNECTED)
    assert calls(out) == [DropCall(7)]
    assert of(out, RingerOff) == [RingerOff()]
    assert SetLed("ringing", LED_OFF) in out
    assert SetLed("message", LED_BLINK) in out
    assert rig.lines == ["Alice          09:30", "", "1 missed call", "2025-11-26"]
    entry = rig.handset.log.entries[0]
    assert (entry.status, entry.new, entry.uri) == (MISSED, True, BOB)
    # lifting the handset counts as having seen it
    out = rig.lift()
    assert SetLed("message", LED_OFF) in out
    assert json.loads(of(out, SaveCallLog)[0].text)["calls"][0]["new"] is False


def test_display_name_of_the_caller_when_call_control_gives_one():
    rig = Rig()

    class Offer:
        name = cc.OFFERED
        call = 3
        remote = BOB
        display = "Bob Builder"
        status = cause = state = None

    rig.handset.call_event(Offer(), rig.now)
    rig.drain()
    assert rig.lines == ["Incoming call", "Bob Builder"]


def test_do_not_disturb_refuses_with_486_and_logs_it():
    rig = Rig(dnd=True)
    assert rig.lines[1] == "Do not disturb"
    out = rig.event(cc.OFFERED, 9, CAROL)
    assert calls(out) == [DropCall(9, 486)]
    assert of(out, RingerOn) == []
    assert calls(rig.event(cc.DROPCALL, 9, state=cc.IDLE)) == [ReleaseCall(9)]
    entry = rig.handset.log.entries[0]
    assert (entry.status, entry.reason, entry.new) == (REFUSED, "dnd", True)
    assert rig.handset.log.unseen_missed() == 1
    # the key turns it off; the next call rings
    rig.press("dnd")
    assert rig.lines[1] == "1 missed call"
    assert calls(rig.event(cc.OFFERED, 10, BOB)) == [AcceptCall(10)]
    # and on again while ringing: the ringing call is refused
    out = rig.press("dnd")
    assert calls(out) == [DropCall(10, 486)]
    assert of(out, RingerOff) == [RingerOff()]
    assert rig.handset.mode == IDLE


def test_set_dnd_from_the_runtime():
    rig = Rig()
    rig.handset.set_dnd(True, rig.now)
    rig.drain()
    assert calls(rig.event(cc.OFFERED, 4, BOB)) == [DropCall(4, 486)]


def test_second_call_is_refused_without_call_waiting():
    rig = Rig(call_waiting=False)
    connected_outgoing(rig)
    out = rig.event(cc.OFFERED, 8, CAROL)
    assert calls(out) == [DropCall(8, 486)]
    assert tone_names(out) == []
    assert rig.handset.log.entries[0].reason == "busy"
    # also while dialling, and while another call rings
    rig = Rig()
    rig.lift()
    assert calls(rig.event(cc.OFFERED, 8, CAROL)) == [DropCall(8, 486)]
    rig = Rig()
    ringing_incoming(rig, 1)
    assert calls(rig.event(cc.OFFERED, 2, CAROL)) == [DropCall(2, 486)]


def test_call_waiting_tone_and_second_caller_on_the_second_line():
    rig = Rig()
    first = connected_outgoing(rig)
    out = rig.event(cc.OFFERED, 8, CAROL)
    assert calls(out) == [AcceptCall(8)]
    assert tone_names(out) == ["call_waiting"]
    assert of(out, RingerOn) == []
    assert SetLed("ringing", LED_BLINK) in out
    assert rig.lines == ["2345       00:00", "Waiting: carol"]
    # a third call is turned away
    assert calls(rig.event(cc.OFFERED, 9, BOB)) == [DropCall(9, 486)]

    # flash: the first call goes on hold, the waiting one is answered
    out = rig.press("transfer")
    assert calls(out) == [HoldCall(first), AnswerCall(8)]
    assert tone_names(out) == ["stop"]
    rig.event(cc.HOLDACK, first)
    rig.event(cc.CONNECTED, 8, CAROL)
    assert rig.lines == ["carol      00:00", "Held: 2345"]
    assert rig.led("ringing") == LED_OFF

    # flash again swaps back
    out = rig.press("flash")
    assert calls(out) == [HoldCall(8), ResumeCall(first)]
    rig.event(cc.HOLDACK, 8)
    rig.event(cc.RESUMEACK, first)
    assert rig.lines == ["2345       00:00", "Held: carol"]


def test_hanging_up_with_a_call_waiting_rings_for_it():
    rig = Rig()
    first = connected_outgoing(rig)
    ringing_incoming(rig, 8, CAROL)
    out = rig.hang_up()
    assert calls(out) == [DropCall(first)]
    assert of(out, RingerOn) == [RingerOn("eu", None)]
    assert rig.lines == ["Incoming call", "carol"]
    assert rig.handset.mode == RINGING
    out = rig.lift()
    assert calls(out) == [AnswerCall(8)]
    rig.event(cc.CONNECTED, 8, CAROL)
    assert rig.handset.mode == TALKING


def test_hanging_up_with_a_call_on_hold_rings_to_recall_it():
    rig = Rig()
    number = connected_outgoing(rig)
    rig.press("hold")
    rig.event(cc.HOLDACK, number)
    out = rig.hang_up()
    assert calls(out) == []  # the held call stays
    assert of(out, RingerOn) and rig.lines == ["Call on hold", "2345"]
    out = rig.lift()
    assert calls(out) == [ResumeCall(number)]
    rig.event(cc.RESUMEACK, number)
    assert rig.handset.mode == TALKING and rig.lines[0].startswith("2345")


def test_waiting_caller_giving_up_clears_the_second_line():
    rig = Rig()
    connected_outgoing(rig)
    ringing_incoming(rig, 8, CAROL)
    out = rig.event(cc.DISCONNECTED, 8, CAROL, 487, "cancelled", cc.DISCONNECTED)
    assert calls(out) == [DropCall(8)]
    assert tone_names(out) == ["stop"]
    assert rig.lines[1] == "2345@example.com"
    assert rig.handset.log.entries[0].status == MISSED


def test_far_end_hang_up_with_a_call_waiting_then_flash_answers_it():
    rig = Rig()
    first = connected_outgoing(rig)
    ringing_incoming(rig, 8, CAROL)
    out = rig.event(cc.DISCONNECTED, first, cause="remote hung up", state=cc.DISCONNECTED)
    assert calls(out) == [DropCall(first)]
    assert rig.lines == ["Call ended", "Waiting: carol"]
    out = rig.press("flash")
    assert calls(out) == [AnswerCall(8)]


def test_driver_event_tuples_are_accepted():
    rig = Rig()
    rig.handset.input_event("off_hook", None, rig.now)
    rig.handset.input_event("key_down", "2", rig.now)
    rig.handset.input_event("key_up", "2", rig.now)
    rig.drain()
    assert rig.lines == ["Dial", "2"]
    rig.handset.input_event("on_hook", None, rig.now)
    rig.drain()
    assert rig.handset.mode == IDLE


def test_misuse_reports_do_not_end_a_call():
    rig = Rig()
    number = connected_outgoing(rig)
    out = rig.event(cc.TASKFAIL, number, cause="hold_call: a re-INVITE is already in progress",
                    state=cc.CONNECTED)
    assert calls(out) == [] and rig.handset.mode == TALKING


def test_unknown_keys_and_repeated_hook_events_are_ignored():
    rig = Rig()
    assert rig.press("speaker") == []
    rig.lift()
    assert rig.lift() == []
    rig.hang_up()
    assert rig.hang_up() == []


def test_a_four_line_display_shows_more():
    rig = Rig(width=20, height=4)
    rig.event(cc.REGISTERED)
    assert rig.lines == ["Alice          09:30", "Registered", "2025-11-26", ""]
    connected_outgoing(rig)
    ringing_incoming(rig, 8, CAROL)
    assert rig.lines == ["2345           00:00", "Waiting: carol", "2345@example.com", ""]


def test_ringer_cadence_follows_the_region():
    rig = Rig(region="uk")
    out = rig.event(cc.OFFERED, 1, BOB)
    assert of(out, RingerOn)[0].cadence == [(0.4, 0.2), (0.4, 2.0)]
    assert seconds_pairs((2000, 4000)) == [(2.0, 4.0)]
    assert seconds_pairs((100,)) == [(0.1, 0.0)]
    try:
        Rig(region="mars")
    except ValueError:
        pass
    else:
        raise AssertionError("an unknown region must be refused")


def test_make_call_without_a_number_yet_is_dropped_once_placed():
    rig = Rig()
    rig.lift()
    out = rig.press("2345")
    make = of(out, MakeCall)[0]
    rig.hang_up()   # before the runtime got round to make_call
    rig.handset.placed(make, 5, rig.now)
    assert calls(rig.drain()) == [DropCall(5)]


# -- with the real call control and user agents ------------------------------------------


def test_outputs_apply_to_a_call_control():
    class Recorder:
        def __init__(self):
            self.done = []

        def __getattr__(self, name):
            def record(*args, **kwargs):
                self.done.append((name, args, kwargs))
                return 42
            return record

    recorder = Recorder()
    assert MakeCall("sip:1@x").apply(recorder, 5.0) == 42
    DropCall(3, 486).apply(recorder, 6.0)
    ReleaseCall(3).apply(recorder, 7.0)
    assert recorder.done == [("make_call", ("sip:1@x",), {"now": 5.0}),
                             ("drop_call", (3, 486, 6.0), {}),
                             ("release_call", (3, 7.0), {})]


# -- two handsets over CallControl, UserAgent and the simulated proxy ------------------------

class SimPhone:
    """A handset wired to a CallControl on a simulated network node, the way
    the runtime wires them: call-control events in, call commands applied."""

    def __init__(self, world, user, **phone):
        from firmware.app.callcontrol import CallControl

        self.world = world
        self.node = world.phone(user)
        self.control = CallControl(self.node.ua)
        settings = {"dial_plan": "[2-9]xxx"}
        settings.update(phone)
        self.handset = Handset({"account": {"user": user, "domain": "sim.test"},
                                "phone": settings}, 16, 2, now=world.now)
        self.outputs = []
        self.busy = False
        self.node.cc = self
        original = self.node.flush

        def flush(sim):
            # applying call commands makes the user agent send; send that too
            original(sim)
            while self.busy:
                self.busy = False
                original(sim)

        self.node.flush = flush

    def apply(self):
        self.outputs.extend(run_commands(self.handset, self.control, self.world.now))

    def events(self):
        """What the node drains: call-control events, fed to the handset."""
        seen = []
        while True:
            batch = self.control.events()
            for event in batch:
                self.handset.call_event(event, self.world.now)
            seen.extend(batch)
            self.apply()
            if not batch:
                return seen
            self.busy = True

    def act(self, action, *args):
        getattr(self.handset, action)(*(args + (self.world.now,)))
        self.apply()
        self.busy = True
        self.world.sim.flush()

    @property
    def lines(self):
        return [line.rstrip() for line in self.handset.screen.lines]


def test_two_handsets_call_each_other_through_the_proxy():
    from simphones import World

    world = World(11)
    alice = SimPhone(world, "2001")
    bob = SimPhone(world, "2002")
    assert world.run_until(lambda: alice.lines[1] == "Registered"
                           and bob.lines[1] == "Registered")

    alice.act("off_hook")
    for key in "2002":
        alice.act("key_down", key)
    assert alice.handset.mode == CALLING
    assert world.run_until(lambda: bob.handset.mode == RINGING)
    assert bob.lines == ["Incoming call", "2001"]
    assert of(bob.outputs, RingerOn)
    assert world.run_until(lambda: "ringback" in tone_names(alice.outputs))
    assert alice.lines[0] == "Ringing"

    bob.act("off_hook")
    assert world.run_until(lambda: alice.lines[0] == "2002       00:00"
                           and bob.lines[0] == "2001       00:00")
    world.sim.run(5)
    alice.handset.on_timer(world.now)
    assert alice.lines[0].endswith("00:05") or alice.lines[0].endswith("00:04")

    alice.act("on_hook")
    assert world.run_until(lambda: bob.lines[0] == "Call ended")
    assert tone_names(bob.outputs)[-1] == "busy"
    assert world.run_until(lambda: not alice.handset.lines and not bob.handset.lines)
    assert alice.control.calls == [] and bob.control.calls == []
    bob.act("on_hook")
    assert tone_names(bob.outputs)[-1] == "stop"
    assert [(e.direction, e.status) for e in alice.handset.log.entries] == [("out", ANSWERED)]
    assert [(e.direction, e.status) for e in bob.handset.log.entries] == [("in", ANSWERED)]


def test_busy_and_dnd_through_the_proxy():
    from simphones import World

    world = World(12)
    alice = SimPhone(world, "2001")
    bob = SimPhone(world, "2002", dnd=True)
    assert world.run_until(lambda: alice.lines[1] == "Registered"
                           and bob.lines[1] == "Do not disturb")
    alice.act("off_hook")
    for key in "2002":
        alice.act("key_down", key)
    assert world.run_until(lambda: alice.handset.mode == NOTICE)
    assert alice.lines == ["Busy", "2002"]
    assert tone_names(alice.outputs)[-1] == "busy"
    assert world.run_until(lambda: not bob.handset.lines and not alice.handset.lines)
    assert bob.control.calls == [] and alice.control.calls == []
    entry = bob.handset.log.entries[0]
    assert (entry.status, entry.reason, entry.uri.startswith("sip:2001@")) == \
        (REFUSED, "dnd", True)
    assert not of(bob.outputs, RingerOn)
    assert alice.handset.log.entries[0].status == BUSY
