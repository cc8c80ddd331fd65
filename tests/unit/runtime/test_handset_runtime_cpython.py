"""runtime/handset.py on a virtual clock: the board's drivers, the handset and storage wired.

The Phone is made but never started (no sockets): call events are handed to
the runtime as the Phone's loop would, keys and the hook are worked through
the simulated board's back door, and time only moves when the test says so.
"""

import json
from pathlib import Path

import pytest

from firmware.app.callcontrol import CallEvent
from firmware.app.calllog import CallEntry, CallLog
from firmware.app.config import parse_config
from firmware.drivers import leds as led_patterns
from firmware.runtime import storage
from firmware.runtime.board import build_hardware, load_board, open_backend
from firmware.runtime.handset import HandsetRuntime, load_call_log, screen_text
from firmware.runtime.phone import Phone
from firmware.runtime.startup import StartupError, load_config

ROOT = Path(__file__).resolve().parents[3]
WALL = (2025, 3, 14, 9, 26, 53)


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class Rig:
    """A phone on the simulated board with its handset, time in our hands."""

    def __init__(self, tmp_path, log_file="calls.json", **phone):
        doc = {"account": {"user": "2001", "domain": "example.test",
                           "display_name": "Alice"},
               "outbound_proxy": {"address": "127.0.0.1", "port": 5061},
               "tls": {"ca_file": "ca.pem"},
               "listen": {"tls_port": 0},
               "phone": phone}
        self.clock = Clock()
        self.events = []
        self.phone = Phone(parse_config(doc), on_event=self.events.append, clock=self.clock)
        board = load_board(str(ROOT / "boards" / "sim.json"))
        self.backend = open_backend(board, clock=self.clock)
        self.hw = build_hardware(board, self.backend, self.clock.now)
        self.log_path = str(tmp_path / log_file) if log_file else None
        self.runtime = HandsetRuntime(self.phone, self.hw, None, self.log_path,
                                      wall=lambda: WALL)
        self.phone.handset = self.runtime

    def start(self):
        self.runtime.start(run=False)
        return self

    def run_for(self, seconds, step=0.005):
        end = self.clock.now + seconds
        while self.clock.now < end:
            self.clock.now = round(self.clock.now + step, 6)
            self.runtime.tick(self.clock.now)

    def press(self, keys):
        for key in keys:
            self.backend.press(key)
            self.run_for(0.05)
            self.backend.release(key)
            self.run_for(0.05)

    def names(self, name):
        return [e.details for e in self.events if e.name == name]


def test_lifting_gives_dial_tone_and_keys_dial_on_the_real_display(tmp_path):
    rig = Rig(tmp_path).start()
    assert rig.backend.screen_text()[0].startswith("Alice")
    assert rig.backend.screen_text()[0].endswith("09:26")
    assert not rig.backend.led("line")
    rig.backend.lift()
    rig.run_for(0.05)
    assert rig.names("OFFHOOK") == [""]
    assert rig.runtime.tone == "dial"
    assert rig.backend.led("line")
    assert rig.backend.screen_text()[0].startswith("Dial")
    rig.press("20")
    assert rig.names("KEY") == ["key=2", "key=0"]
    assert rig.runtime.tone is None
    assert rig.backend.screen_text()[1].rstrip() == "20"
    assert rig.names("TONE") == ["name=dial", "name=none"]


def test_an_offered_call_rings_with_the_regions_cadence_and_blinks_fast(tmp_path):
    rig = Rig(tmp_path, region="na").start()
    rig.runtime.call_event(CallEvent("OFFERED", 7, "sip:2002@example.test"), rig.clock.now)
    assert rig.runtime.ringing and rig.hw.ringer.ringing
    assert rig.hw.leds.pattern("ringing") == led_patterns.BLINK_FAST
    assert "Incoming call" in rig.backend.screen_text()[0]
    # North American ringing: 2 s on, 4 s off; the relay pin follows it
    levels = []
    rig.run_for(0.25)
    for _ in range(13):                 # at 0.25 s, 0.75 s, ... 6.25 s
        levels.append(rig.backend.ringer_on())
        rig.run_for(0.5)
    assert levels[:4] == [True] * 4 and levels[4:12] == [False] * 8 and levels[12] is True
    # the caller gives up: ringing stops, the missed call is stored and flashes
    rig.runtime.call_event(CallEvent("DISCONNECTED", 7, "sip:2002@example.test"),
                           rig.clock.now)
    rig.runtime.call_event(CallEvent("RELEASECALL", 7, "sip:2002@example.test"), rig.clock.now)
    assert not rig.hw.ringer.ringing and not rig.backend.ringer_on()
    assert rig.hw.leds.pattern("message") == led_patterns.FLASH
    stored = CallLog.from_json(Path(rig.log_path).read_text())
    assert [(e.direction, e.status) for e in stored.entries] == [("in", "missed")]
    assert "CALLLOG entries=1 saved=yes" in [
        "%s %s" % (e.name, e.details) for e in rig.events]


def test_a_call_on_hold_blinks_the_line_led_slowly(tmp_path):
    rig = Rig(tmp_path).start()
    rig.runtime.call_event(CallEvent("OFFERED", 1, "sip:2002@example.test"), rig.clock.now)
    rig.backend.lift()
    rig.run_for(0.05)
    rig.runtime.call_event(CallEvent("CONNECTED", 1, "sip:2002@example.test"), rig.clock.now)
    assert rig.hw.leds.pattern("line") == led_patterns.ON
    rig.press(["hold"])
    rig.runtime.call_event(CallEvent("HOLDACK", 1, "sip:2002@example.test"), rig.clock.now)
    assert rig.hw.leds.pattern("line") == led_patterns.BLINK_SLOW


def test_a_handset_lifted_at_start_gets_dial_tone_at_once(tmp_path):
    rig = Rig(tmp_path)
    rig.backend.lift()
    rig.hw = rig.runtime.hw = build_hardware(rig.hw.board, rig.backend, rig.clock.now)
    rig.start()
    assert rig.names("OFFHOOK") == ["at=start"]
    assert rig.runtime.tone == "dial"


def test_the_call_log_is_loaded_from_its_previous_copy_when_the_file_is_bad(tmp_path):
    path = str(tmp_path / "calls.json")
    log = CallLog(5, [CallEntry("out", "busy", "sip:2002@example.test", number="2002")])
    storage.write_atomic(path, log.to_json())
    storage.write_atomic(path, log.to_json())          # now calls.json.prev exists too
    Path(path).write_text('{"format": 1, "calls": [')   # damaged by hand
    loaded, where = load_call_log(path, 50)
    assert where == "previous" and loaded.entries[0].number == "2002"
    assert load_call_log(str(tmp_path / "none.json"), 50)[1] is None
    rig = Rig(tmp_path, log_file="calls.json").start()
    assert "entries=1 from=previous" in rig.names("CALLLOG")
    # redial uses the log it loaded
    rig.backend.lift()
    rig.run_for(0.05)
    rig.press(["redial"])
    assert rig.phone.calls.calls[0].remote == "sip:2002@example.test"


def test_unwritable_call_log_is_reported_not_fatal(tmp_path):
    rig = Rig(tmp_path, log_file="no/such/folder/calls.json").start()
    rig.runtime.call_event(CallEvent("OFFERED", 3, "sip:2002@example.test"), rig.clock.now)
    rig.runtime.call_event(CallEvent("RELEASECALL", 3, "sip:2002@example.test"), rig.clock.now)
    assert [e.name for e in rig.events if e.name.startswith("CALLLOG")][-1] == "CALLLOG_ERROR"
    assert rig.runtime.errors == 1
    assert rig.names("HANDSET_ERROR") == []


def test_screen_text_drops_trailing_blanks():
    assert screen_text(["Dial   ", "2002  ", "    ", "   "]) == "Dial | 2002"
    assert screen_text(["Alice  09:26", "", "x"]) == "Alice  09:26 |  | x"


def test_the_call_log_file_is_relative_to_the_configuration_and_needs_its_folder(tmp_path):
    (tmp_path / "ca.pem").write_text("")
    doc = {"account": {"user": "2001", "domain": "example.test"},
           "outbound_proxy": {"address": "127.0.0.1"}, "tls": {"ca_file": "ca.pem"},
           "listen": {"tls_port": 0}, "phone": {"call_log_file": "calls.json"}}
    path = tmp_path / "phone.json"
    path.write_text(json.dumps(doc))
    assert load_config(str(path)).phone.call_log_file == str(tmp_path / "calls.json")
    doc["phone"]["call_log_file"] = "missing/calls.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(StartupError) as info:
        load_config(str(path))
    assert info.value.problems == [
        "%s: phone.call_log_file: no folder for missing/calls.json" % path]


def test_a_fault_in_the_handset_is_reported_and_stops_only_the_handset(tmp_path):
    rig = Rig(tmp_path).start()
    rig.runtime.call_event(CallEvent("OFFERED", 4, "sip:2002@example.test"), rig.clock.now)
    assert rig.hw.ringer.ringing

    def broken(event, now):
        raise KeyError("boom")
    rig.runtime.handset.call_event = broken
    rig.runtime.call_event(CallEvent("DISCONNECTED", 4), rig.clock.now)   # does not raise
    assert rig.names("HANDSET_ERROR") == ['cause="KeyError: \'boom\'"']
    assert not rig.hw.ringer.ringing and not rig.backend.ringer_on()
    rig.runtime.call_event(CallEvent("RELEASECALL", 4), rig.clock.now)   # ignored now
    assert len(rig.names("HANDSET_ERROR")) == 1
