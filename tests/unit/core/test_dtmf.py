"""RFC 4733 telephone-events: payload coding, sender packet sequences, receiver."""

from firmware.core.dtmf import (DIGITS, DtmfReceiver, DtmfSender, decode_event, encode_event,
                                event_code)


def _run(sender, ticks, ts0=1000, step=160):
    """Tick the sender as a 20 ms stream would: list of (tick, DtmfPacket)."""
    out = []
    for k in range(ticks):
        packet = sender.tick((ts0 + k * step) & 0xFFFFFFFF)
        if packet is not None:
            out.append((k, packet))
    return out


def test_event_codes():
    assert [event_code(d) for d in "0123456789"] == list(range(10))
    assert event_code("*") == 10 and event_code("#") == 11
    assert [event_code(d) for d in "ABCD"] == [12, 13, 14, 15]
    assert event_code("a") == 12
    assert event_code(7) == 7
    for bad in ("E", "", "12", " "):
        try:
            event_code(bad)
        except ValueError:
            continue
        raise AssertionError("accepted %r" % bad)


def test_payload_coding():
    payload = encode_event(11, True, 10, 1280)
    assert payload == bytes([11, 0x80 | 10, 0x05, 0x00])
    assert decode_event(payload) == (11, True, 10, 1280)
    assert decode_event(encode_event(3, False, 63, 70000)) == (3, False, 63, 0xFFFF)
    try:
        decode_event(b"\x01\x02\x03")
    except ValueError:
        pass
    else:
        raise AssertionError("short payload accepted")


def test_one_digit_packet_sequence():
    sender = DtmfSender()
    sender.send("5", duration_ms=100)
    assert sender.active
    packets = _run(sender, 20)
    events = [decode_event(p.payload) for _, p in packets]
    # Five updates (20..100 ms), the last of them already the end, plus two repeats.
    assert [e[3] for e in events] == [160, 320, 480, 640, 800, 800, 800]
    assert [e[1] for e in events] == [False] * 4 + [True] * 3
    assert all(e[0] == 5 and e[2] == 10 for e in events)
    assert [p.marker for _, p in packets] == [True] + [False] * 6
    assert all(p.timestamp == 1000 for _, p in packets)  # the event's start, throughout
    assert [k for k, _ in packets] == list(range(7))  # one per packet tick
    assert not sender.active


def test_key_press_and_release():
    sender = DtmfSender()
    sender.start("#")
    packets = _run(sender, 10)
    assert len(packets) == 10 and not any(decode_event(p.payload)[1] for _, p in packets)
    sender.stop()
    tail = _run(sender, 10, ts0=1000 + 1600)
    ends = [decode_event(p.payload) for _, p in tail]
    assert [e[1] for e in ends] == [True, True, True]
    assert all(e[3] == 1600 for e in ends)  # ten packets of 20 ms were sent
    assert all(p.timestamp == 1000 for _, p in tail)


def test_short_press_is_stretched_to_the_minimum_duration():
    sender = DtmfSender(min_duration_ms=60)
    sender.start("1")
    sender.stop()  # released before the first packet went out
    events = [decode_event(p.payload) for _, p in _run(sender, 10)]
    assert events[-1][1] and events[-1][3] >= 480
    assert len([e for e in events if e[1]]) == 3


def test_consecutive_digits_get_their_own_timestamps_and_a_gap():
    sender = DtmfSender(gap_ms=60)
    sender.send("12", duration_ms=60)
    packets = _run(sender, 30)
    first = [(k, p) for k, p in packets if decode_event(p.payload)[0] == 1]
    second = [(k, p) for k, p in packets if decode_event(p.payload)[0] == 2]
    assert len(first) == 5 and len(second) == 5  # 3 updates (last is an end) + 2 repeats
    assert first[0][1].marker and second[0][1].marker
    gap_ticks = second[0][0] - first[-1][0] - 1
    assert gap_ticks == 3  # 60 ms of audio between the digits
    assert second[0][1].timestamp == 1000 + second[0][0] * 160
    assert second[0][1].timestamp != first[0][1].timestamp


def test_timestamp_wrap_inside_an_event():
    sender = DtmfSender()
    sender.send("9", duration_ms=100)
    packets = _run(sender, 10, ts0=0xFFFFFF60)
    assert all(p.timestamp == 0xFFFFFF60 for _, p in packets)
    assert decode_event(packets[-1][1].payload)[3] == 800


def test_long_event_ends_at_the_duration_limit():
    sender = DtmfSender()
    sender.start("0")
    packets = _run(sender, 500)
    events = [decode_event(p.payload) for _, p in packets]
    ends = [e for e in events if e[1]]
    assert len(ends) == 3
    assert ends[0][3] <= 0xFFFF and ends[0][3] > 0xFFFF - 160
    assert max(e[3] for e in events) <= 0xFFFF


def test_cancel_drops_queued_digits():
    sender = DtmfSender()
    sender.send("123")
    _run(sender, 2)
    sender.cancel()
    codes = set(decode_event(p.payload)[0] for _, p in _run(sender, 40))
    assert codes == {1}


def _deliver(receiver, packets, now=0.0, step=0.02):
    digits = []
    for i, (_, packet) in enumerate(packets):
        digits.extend(receiver.receive(packet.payload, packet.timestamp, now + i * step))
    return digits


def test_receiver_reports_each_digit_once_with_its_duration():
    sender = DtmfSender()
    sender.send("7*D", duration_ms=120)
    packets = _run(sender, 60)
    receiver = DtmfReceiver()
    digits = _deliver(receiver, packets)
    assert [d.digit for d in digits] == ["7", "*", "D"]
    assert all(d.duration == 960 and d.duration_ms == 120 and d.ended for d in digits)
    assert all(d.volume == 10 for d in digits)


def test_receiver_ignores_duplicates_and_repeated_ends():
    sender = DtmfSender()
    sender.send("3")
    packets = _run(sender, 10)
    doubled = []
    for item in packets:
        doubled.append(item)
        doubled.append(item)
    receiver = DtmfReceiver()
    digits = _deliver(receiver, doubled)
    assert [d.digit for d in digits] == ["3"]
    assert _deliver(receiver, packets[-2:]) == []  # stragglers of a reported digit


def test_receiver_survives_reordering_within_an_event():
    sender = DtmfSender()
    sender.send("4", duration_ms=100)
    packets = _run(sender, 10)
    packets[1], packets[2] = packets[2], packets[1]
    receiver = DtmfReceiver()
    digits = _deliver(receiver, packets)
    assert [(d.digit, d.duration) for d in digits] == [("4", 800)]


def test_all_end_packets_lost_reports_on_timeout():
    sender = DtmfSender()
    sender.send("8", duration_ms=100)
    packets = [p for p in _run(sender, 10) if not decode_event(p[1].payload)[1]]
    receiver = DtmfReceiver(timeout=0.3)
    assert _deliver(receiver, packets) == []
    assert receiver.current == "8"
    deadline = receiver.next_deadline()
    assert abs(deadline - (0.02 * (len(packets) - 1) + 0.3)) < 1e-9
    assert receiver.on_timer(deadline - 0.01) == []
    digits = receiver.on_timer(deadline)
    assert [(d.digit, d.duration, d.ended) for d in digits] == [("8", 640, False)]
    assert receiver.next_deadline() is None


def test_new_event_finishes_one_whose_end_was_lost():
    sender = DtmfSender()
    sender.send("12", duration_ms=60)
    packets = _run(sender, 30)
    kept = [p for p in packets
            if not (decode_event(p[1].payload)[0] == 1 and decode_event(p[1].payload)[1])]
    receiver = DtmfReceiver()
    digits = _deliver(receiver, kept)
    assert [(d.digit, d.ended) for d in digits] == [("1", False), ("2", True)]


def test_only_the_end_packets_arriving_still_give_the_digit():
    sender = DtmfSender()
    sender.send("B", duration_ms=100)
    ends = [p for p in _run(sender, 10) if decode_event(p[1].payload)[1]]
    digits = _deliver(DtmfReceiver(), ends)
    assert [(d.digit, d.duration_ms) for d in digits] == [("B", 100)]


def test_non_dtmf_events_and_garbage_are_ignored():
    receiver = DtmfReceiver()
    assert receiver.receive(encode_event(16, True, 10, 800), 5, 0.0) == []  # flash hook
    assert receiver.receive(b"\x01", 5, 0.0) == []
    assert receiver.current is None


def test_every_digit_round_trips():
    sender = DtmfSender(gap_ms=40)
    sender.send(DIGITS, duration_ms=80)
    packets = _run(sender, 16 * 10)
    digits = _deliver(DtmfReceiver(), packets)
    assert "".join(d.digit for d in digits) == DIGITS


def _scripted(sender, skip_when_idle):
    """Digits started at set ticks (one inside the gap after a digit, one after
    it, a held key); ticks skipped while ``busy`` is False when asked to."""
    script = {0: ("send", "1"), 6: ("send", "2"), 30: ("start", "3"), 36: ("stop", None),
              50: ("send", "45"), 58: ("send", "6")}
    out = []
    for k in range(90):
        action = script.get(k)
        if action is not None:
            if action[0] == "send":
                sender.send(action[1], duration_ms=60)
            elif action[0] == "start":
                sender.start(action[1])
            else:
                sender.stop()
        if skip_when_idle and not sender.busy:
            continue
        packet = sender.tick(1000 + 160 * k)
        if packet is not None:
            out.append((k, packet.payload, packet.marker, packet.timestamp))
    return out


def test_ticks_left_out_while_not_busy_change_nothing():
    # A media stream ticks the sender only while it is busy; that must give
    # the very packets that ticking it on every packet gives, gaps included.
    every = _scripted(DtmfSender(gap_ms=60), False)
    busy_only = _scripted(DtmfSender(gap_ms=60), True)
    assert every == busy_only
    assert len([p for p in every if p[2]]) == 6  # six digits, one marker each
    sender = DtmfSender()
    assert not sender.busy
    sender.send("1", duration_ms=40)
    assert sender.busy
    _run(sender, 30)
    assert not sender.busy and not sender.active
