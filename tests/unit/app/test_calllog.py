"""The call log: capacity, redial source, missed-call count, JSON round trip."""

import json

from firmware.app.calllog import (ANSWERED, BUSY, INCOMING, MISSED, OUTGOING, REFUSED,
                                  CallEntry, CallLog)

WHEN = (2025, 11, 26, 9, 30, 0)


def sample_log():
    log = CallLog(5)
    log.add(CallEntry(OUTGOING, ANSWERED, "sip:2345@example.com", "", "2345", WHEN, 65))
    log.add(CallEntry(INCOMING, MISSED, "sip:bob@example.com", "Bob", when=WHEN))
    log.add(CallEntry(INCOMING, REFUSED, "sip:carol@example.com", "", when=None, reason="dnd"))
    log.add(CallEntry(OUTGOING, BUSY, "sip:3000@example.com", "", "3000", WHEN,
                      reason="486 Busy Here"))
    return log


def test_newest_first_and_capacity():
    log = CallLog(3)
    for n in range(5):
        log.add(CallEntry(OUTGOING, ANSWERED, "sip:%d@x" % n, number=str(n)))
    assert len(log) == 3
    assert [e.number for e in log.entries] == ["4", "3", "2"]
    empty = CallLog(0)
    empty.add(CallEntry(OUTGOING, ANSWERED, "sip:1@x"))
    assert len(empty) == 0 and empty.last_dialled() is None


def test_last_dialled_is_the_newest_outgoing_call():
    log = sample_log()
    assert log.last_dialled().number == "3000"
    only_incoming = CallLog(3)
    only_incoming.add(CallEntry(INCOMING, ANSWERED, "sip:bob@x"))
    assert only_incoming.last_dialled() is None


def test_missed_and_refused_calls_are_new_until_seen():
    log = sample_log()
    assert log.unseen_missed() == 2
    assert [e.new for e in log.entries] == [False, True, True, False]
    assert log.mark_seen()
    assert log.unseen_missed() == 0
    assert not log.mark_seen()


def test_entry_validation():
    for args in ((INCOMING, BUSY), (OUTGOING, MISSED), ("sideways", ANSWERED)):
        try:
            CallEntry(*args)
        except ValueError:
            pass
        else:
            raise AssertionError("%r must be refused" % (args,))


def test_json_round_trip_keeps_every_field():
    log = sample_log()
    text = log.to_json()
    again = CallLog.from_json(text)
    assert again.capacity == 5
    assert again.entries == log.entries
    assert again.entries[0].reason == "486 Busy Here"
    assert again.entries[2].when == WHEN
    assert again.entries[3].duration == 65
    assert again.to_json() == text or json.loads(again.to_json()) == json.loads(text)
    document = json.loads(text)
    assert document["format"] == 1
    assert document["calls"][1] == {"dir": "in", "status": "refused",
                                    "uri": "sip:carol@example.com", "name": "", "number": "",
                                    "when": None, "duration": 0, "reason": "dnd", "new": True}


def test_from_json_with_a_smaller_capacity_keeps_the_newest():
    again = CallLog.from_json(sample_log().to_json(), capacity=2)
    assert [e.status for e in again.entries] == [BUSY, REFUSED]


def test_bad_entries_are_skipped_not_the_whole_log():
    document = json.loads(sample_log().to_json())
    document["calls"].insert(1, {"dir": "in", "status": "exploded"})
    document["calls"].insert(1, {"dir": "out", "status": "answered", "when": [1, 2]})
    document["calls"].insert(1, {"dir": "out", "status": "answered", "duration": -4})
    document["calls"].insert(1, "not an object")
    document["calls"].insert(1, {"dir": "out", "status": "answered", "uri": 7})
    again = CallLog.from_json(json.dumps(document))
    assert len(again) == 4
    assert again.entries == sample_log().entries


def test_a_document_that_is_no_call_log_raises_value_error():
    for text in ("", "{", "[]", "{}", '{"format": 1}', '{"format": 2, "calls": []}',
                 '{"format": 1, "calls": {}}', "null"):
        try:
            CallLog.from_json(text)
        except ValueError:
            pass
        else:
            raise AssertionError("%r must be refused" % text)
    assert len(CallLog.from_json('{"format": 1, "calls": []}')) == 0
    assert CallLog.from_json('{"format": 1, "calls": [], "capacity": "x"}').capacity == 50
