"""The RTP session glue on a virtual clock: packets out, frames back, RTCP, DTMF."""

import struct

from firmware.core import g711
from firmware.core.dtmf import DtmfDigit, decode_event
from firmware.core.mediastream import CHANNEL_RTCP, CHANNEL_RTP, ByeReceived, MediaStream
from firmware.core.rtcp import (Bye, ReceiverReport, SenderReport, SourceDescription,
                                decode_rtcp, encode_sender_report, ntp_middle, ntp_timestamp)
from firmware.core.rtp import decode_rtp, encode_rtp
from firmware.core.tones import ToneGenerator, tone

PEER = ("192.0.2.7", 40000)
PHONE = ("192.0.2.1", 50000)


class _Random:
    """urandom(n) that hands out the given chunks first, then a counter."""

    def __init__(self, *chunks):
        self.chunks = list(chunks)
        self.counter = 0

    def __call__(self, n):
        if self.chunks:
            chunk = self.chunks.pop(0)
            assert len(chunk) == n
            return chunk
        self.counter += 1
        return bytes([(self.counter * 37 + i) & 0xFF for i in range(n)])


def _stream(ssrc=0x11223344, seq=0x1000, ts=0x20000, **options):
    rand = _Random(struct.pack("!I", ssrc), struct.pack("!H", seq), struct.pack("!I", ts))
    return MediaStream("PCMU", 0, PEER, rand, dtmf_payload_type=101, **options)


def _packets(stream, channel=CHANNEL_RTP):
    return [decode_rtp(data) for ch, data, addr in stream.datagrams_to_send() if ch == channel]


def _frame(value=1000):
    return struct.pack("<160h", *([value] * 160))


def test_outgoing_packets_carry_the_negotiated_fields():
    stream = _stream()
    pcm = ToneGenerator(tone("na", "dial")).read(160)
    stream.send_audio(pcm, 0.0)
    out = stream.datagrams_to_send()
    assert len(out) == 1
    channel, data, addr = out[0]
    assert channel == CHANNEL_RTP and addr == PEER
    packet = decode_rtp(data)
    assert packet.payload_type == 0
    assert packet.ssrc == 0x11223344 == stream.ssrc
    assert packet.sequence == 0x1000 and packet.timestamp == 0x20000
    assert packet.marker is True  # first packet of the first talkspurt
    assert packet.payload == g711.ulaw_encode(pcm)
    stream.send_audio(pcm, 0.02)
    second = _packets(stream)[0]
    assert second.marker is False
    assert second.sequence == 0x1001 and second.timestamp == 0x20000 + 160


def test_sequence_and_timestamp_wrap_around():
    stream = _stream(seq=65534, ts=(1 << 32) - 320)
    for k in range(4):
        stream.send_audio(_frame(), k * 0.02)
    packets = _packets(stream)
    assert [p.sequence for p in packets] == [65534, 65535, 0, 1]
    assert [p.timestamp for p in packets] == [(1 << 32) - 320, (1 << 32) - 160, 0, 160]


def test_muted_frames_advance_the_clock_and_restart_the_talkspurt():
    stream = _stream()
    stream.send_audio(_frame(), 0.0)
    stream.send_audio(None, 0.02)
    stream.send_audio(None, 0.04)
    stream.send_audio(_frame(), 0.06)
    stream.send_audio(_frame(), 0.08)
    packets = _packets(stream)
    assert [p.timestamp - 0x20000 for p in packets] == [0, 480, 640]
    assert [p.sequence - 0x1000 for p in packets] == [0, 1, 2]
    assert [p.marker for p in packets] == [True, True, False]


def test_ptime_packs_or_splits_frames():
    stream = _stream(ptime=40)
    for k in range(4):
        stream.send_audio(_frame(1000 + k), k * 0.02)
    packets = _packets(stream)
    assert [len(p.payload) for p in packets] == [320, 320]
    assert [p.timestamp - 0x20000 for p in packets] == [0, 320]
    assert packets[1].payload == g711.ulaw_encode(_frame(1002) + _frame(1003))
    stream = _stream(ptime=10)
    stream.send_audio(_frame(), 0.0)
    packets = _packets(stream)
    assert [len(p.payload) for p in packets] == [80, 80]
    assert [p.timestamp - 0x20000 for p in packets] == [0, 80]
    assert [p.marker for p in packets] == [True, False]


def test_dtmf_replaces_audio_while_a_digit_is_sent():
    stream = _stream()
    stream.send_audio(_frame(), 0.0)
    stream.send_dtmf("5", duration_ms=60)
    assert stream.sending_dtmf
    for k in range(1, 8):
        stream.send_audio(_frame(), k * 0.02)
    packets = _packets(stream)
    kinds = [p.payload_type for p in packets]
    assert kinds == [0, 101, 101, 101, 101, 101, 0, 0]
    events = [p for p in packets if p.payload_type == 101]
    assert all(p.timestamp == 0x20000 + 160 for p in events)
    assert [decode_event(p.payload)[1] for p in events] == [False, False, True, True, True]
    assert events[0].marker and not events[1].marker
    assert [p.sequence - 0x1000 for p in packets] == list(range(8))
    assert packets[6].timestamp == 0x20000 + 6 * 160  # audio kept its clock
    assert not stream.sending_dtmf


def test_dtmf_needs_telephone_event():
    stream = MediaStream("PCMA", 8, PEER, _Random())
    try:
        stream.send_dtmf("1")
    except ValueError:
        pass
    else:
        raise AssertionError("DTMF without telephone-event")


def _call(a, b, seconds, pcm_a=None, loss=(), latency=0.03, until_event=False):
    """Run both streams at 50 frames/s; returns the frames b played."""
    played = []
    for tick in range(int(seconds * 50)):
        now = tick * 0.02
        a.send_audio(pcm_a(tick) if pcm_a else _frame(), now)
        b.send_audio(None, now)
        for ch, data, _ in a.datagrams_to_send():
            if tick in loss and ch == CHANNEL_RTP:
                continue
            if ch == CHANNEL_RTP:
                b.receive(data, PEER, now + latency)
            else:
                b.receive_rtcp(data, (PEER[0], PEER[1] + 1), now + latency)
        for ch, data, _ in b.datagrams_to_send():
            if ch == CHANNEL_RTP:
                a.receive(data, PHONE, now + latency)
            else:
                a.receive_rtcp(data, (PHONE[0], PHONE[1] + 1), now + latency)
        played.append(b.get_frame(now + 0.001))
        for stream in (a, b):
            deadline = stream.next_deadline()
            if deadline is not None and deadline <= now:
                stream.on_timer(now)
    return played


def test_audio_goes_through_bit_exact():
    a = _stream(ssrc=1)
    b = MediaStream("PCMU", 0, PHONE, _Random(), dtmf_payload_type=101)
    tone_gen = ToneGenerator(tone("uk", "dial"))
    sent = [tone_gen.read(160) for _ in range(200)]
    played = _call(a, b, 4.0, pcm_a=lambda k: sent[k])
    expected = [g711.ulaw_decode(g711.ulaw_encode(pcm)) for pcm in sent]
    start = 0
    while played[start] != expected[1]:  # the first packet is the probation packet
        start += 1
    run = played[start:start + 100]
    assert run == expected[1:101]
    assert b.stats()["buffer"]["concealed"] == 0


def test_received_digits_become_events():
    a = _stream(ssrc=1)
    b = MediaStream("PCMU", 0, PHONE, _Random(), dtmf_payload_type=101)
    for tick in range(60):
        now = tick * 0.02
        if tick == 10:
            a.send_dtmf("19#", duration_ms=80)
        a.send_audio(_frame(), now)
        for ch, data, _ in a.datagrams_to_send():
            if ch == CHANNEL_RTP:
                b.receive(data, PEER, now + 0.01)
        b.get_frame(now)
    events = []
    event = b.next_event()
    while event is not None:
        events.append(event)
        event = b.next_event()
    assert [type(e) for e in events] == [DtmfDigit] * 3
    assert [(e.digit, e.duration_ms) for e in events] == [("1", 80), ("9", 80), ("#", 80)]
    assert b.stats()["buffer"]["lost"] == 0


def test_symmetric_rtp_answers_where_packets_come_from():
    nat = ("203.0.113.9", 61000)
    for symmetric, expected in ((True, nat), (False, PEER)):
        stream = _stream(symmetric=symmetric)
        for k in range(3):
            stream.receive(encode_rtp(0, 7 + k, 160 * k, 99, bytes(160)), nat, k * 0.02)
        assert stream.remote_rtp == expected
        stream.send_audio(_frame(), 0.1)
        assert stream.datagrams_to_send()[0][2] == expected


def test_unknown_payload_types_and_garbage_are_counted_and_dropped():
    stream = _stream()
    stream.receive(encode_rtp(18, 1, 0, 5, bytes(20)), PEER, 0.0)
    stream.receive(b"\x80\x00\x01", PEER, 0.0)
    stream.receive_rtcp(b"\x80\xc8\x00\x09", PEER, 0.0)
    stats = stream.stats()
    assert stats["unknown_payload"] == 1 and stats["malformed"] == 2
    assert stats["packets_received"] == 0


def test_rtcp_schedule_and_sender_report_contents():
    stream = _stream(rtcp_interval=5.0, ntp_offset=3900000000.0)
    assert stream.next_deadline() is None  # nothing happened yet
    stream.send_audio(_frame(), 10.0)
    first = stream.next_deadline()
    assert 10.0 + 1.25 <= first <= 10.0 + 3.75
    tick = 1
    while 10.0 + tick * 0.02 < first:
        stream.send_audio(_frame(), 10.0 + tick * 0.02)
        tick += 1
    stream.datagrams_to_send()
    stream.on_timer(first)
    out = stream.datagrams_to_send()
    assert len(out) == 1
    channel, data, addr = out[0]
    assert channel == CHANNEL_RTCP and addr == (PEER[0], PEER[1] + 1)
    report, sdes = decode_rtcp(data)
    assert isinstance(report, SenderReport) and isinstance(sdes, SourceDescription)
    assert report.ssrc == stream.ssrc
    assert report.packet_count == tick and report.octet_count == 160 * tick
    assert report.ntp_timestamp == ntp_timestamp(first + 3900000000.0)
    expected_ts = (0x20000 + int((first - 10.0) * 8000) + 160) & 0xFFFFFFFF
    assert abs(report.rtp_timestamp - expected_ts) <= 160
    assert report.reports == []  # nothing received yet
    assert sdes.cname(stream.ssrc)
    later = stream.next_deadline()
    assert first + 2.5 <= later <= first + 7.5


def test_receiver_report_fields_after_loss():
    a = _stream(ssrc=0xA)
    b = MediaStream("PCMU", 0, PHONE, _Random(), dtmf_payload_type=101)
    loss = set(range(100, 110))  # ten packets lost
    _call(a, b, 12.0, loss=loss)
    assert b.stats()["packets_lost"] == 10
    # b only receives: its reports are RRs about a, and a learns from them.
    report = a.remote_report
    assert report is not None and report.ssrc == a.ssrc
    assert report.cumulative_lost == 10
    assert a.stats()["remote_fraction_lost"] is not None
    # Each report waits for the next tick (20 ms) and then takes 30 ms to arrive.
    assert a.rtt is not None and abs(a.rtt - 0.1) < 0.001
    assert b.stats()["buffer"]["lost"] == 10


def test_receiver_only_stream_sends_receiver_reports():
    a = _stream(ssrc=0xA)
    b = MediaStream("PCMU", 0, PHONE, _Random(), dtmf_payload_type=101, rtcp_interval=1.0)
    seen = []
    for tick in range(300):
        now = tick * 0.02
        a.send_audio(_frame(), now)
        for ch, data, _ in a.datagrams_to_send():
            if ch == CHANNEL_RTP:
                b.receive(data, PEER, now)
        deadline = b.next_deadline()
        if deadline is not None and deadline <= now:
            b.on_timer(now)
        for _, data, _ in b.datagrams_to_send():
            seen.append((decode_rtcp(data)[0], a.packets_sent))
    assert len(seen) >= 3
    for report, sent in seen:
        assert isinstance(report, ReceiverReport)
        block = report.reports[0]
        assert block.ssrc == a.ssrc and block.cumulative_lost == 0 and block.fraction_lost == 0
        assert block.highest_sequence == 0x1000 + sent - 1


def test_lsr_dlsr_echo_the_peers_sender_report():
    stream = _stream()
    for k in range(3):
        stream.receive(encode_rtp(0, 50 + k, 160 * k, 77, bytes(160)), PEER, k * 0.02)
    sr = SenderReport(77, ntp_timestamp(3900000123.5), 320, 3, 480)
    stream.receive_rtcp(encode_sender_report(sr), PEER, 1.0)
    deadline = stream.next_deadline()
    assert deadline > 1.0
    stream.on_timer(deadline)
    data = [d for ch, d, _ in stream.datagrams_to_send() if ch == CHANNEL_RTCP][0]
    block = decode_rtcp(data)[0].reports[0]
    assert block.ssrc == 77
    assert block.lsr == ntp_middle(sr.ntp_timestamp)
    assert block.dlsr == int((deadline - 1.0) * 65536)


def test_rtcp_mux_uses_the_rtp_socket_both_ways():
    a = _stream(ssrc=1, rtcp_mux=True, rtcp_interval=1.0)
    b = MediaStream("PCMU", 0, PHONE, _Random(), rtcp_mux=True)
    for tick in range(200):
        now = tick * 0.02
        a.send_audio(_frame(), now)
        deadline = a.next_deadline()
        if deadline is not None and deadline <= now:
            a.on_timer(now)
        for ch, data, addr in a.datagrams_to_send():
            assert ch == CHANNEL_RTP and addr == PEER
            b.receive(data, PEER, now)  # RTCP arrives on the RTP socket
    assert b.reception is not None and b.reception.last_sr != 0
    assert b.malformed == 0 and b.unknown_payload == 0


def test_close_sends_bye_and_the_peer_sees_it():
    a = _stream(ssrc=0xBEEF)
    b = MediaStream("PCMU", 0, PHONE, _Random())
    for tick in range(5):
        a.send_audio(_frame(), tick * 0.02)
    for _, data, _ in a.datagrams_to_send():
        b.receive(data, PEER, 0.1)
    a.close(0.2, "bye now")
    assert a.closed and a.next_deadline() is None
    out = a.datagrams_to_send()
    assert len(out) == 1 and out[0][0] == CHANNEL_RTCP
    parts = decode_rtcp(out[0][1])
    assert isinstance(parts[-1], Bye) and parts[-1].ssrcs == [0xBEEF]
    b.receive_rtcp(out[0][1], PEER, 0.25)
    event = b.next_event()
    assert isinstance(event, ByeReceived) and event.ssrc == 0xBEEF and event.reason == b"bye now"
    a.close(0.3)
    assert a.datagrams_to_send() == []


def test_a_new_remote_source_takes_over_after_probation():
    stream = _stream()
    for k in range(20):
        stream.receive(encode_rtp(0, 100 + k, 160 * k, 1, bytes(160)), PEER, k * 0.02)
    assert stream.reception.ssrc == 1
    stream.receive(encode_rtp(0, 9000, 5, 2, bytes(160)), PEER, 0.5)
    assert stream.reception.ssrc == 1  # one packet is not enough
    stream.receive(encode_rtp(0, 9001, 165, 2, bytes(160)), PEER, 0.52)
    assert stream.reception.ssrc == 2
    assert stream.stats()["remote_ssrc"] == 2


def _with_extras(data, kind):
    """The same RTP packet with CSRCs, a header extension or padding added."""
    first, second = data[0], data[1]
    header, payload = data[2:12], data[12:]
    if kind == "csrc":
        return bytes([first | 2, second]) + header + struct.pack("!II", 5, 6) + payload
    if kind == "extension":
        return bytes([first | 0x10, second]) + header + struct.pack("!HHI", 0xBEDE, 1, 0) \
            + payload
    return bytes([first | 0x20, second]) + header + payload + b"\x00\x00\x03"


def test_packets_in_every_header_form_play_the_same():
    # Most packets take the one-unpack path; those with CSRCs, an extension
    # or padding the general parser. Mixed in one stream, every frame must
    # still come out bit-exact, and every datagram type must be accepted.
    tone_gen = ToneGenerator(tone("uk", "dial"))
    sent = [tone_gen.read(160) for _ in range(120)]
    a = _stream(ssrc=3)
    b = MediaStream("PCMU", 0, PHONE, _Random(), dtmf_payload_type=101)
    forms = ("plain", "csrc", "extension", "padding", "plain", "plain")
    played = []
    for tick in range(120):
        now = tick * 0.02
        a.send_audio(sent[tick], now)
        for ch, data, _ in a.datagrams_to_send():
            if ch != CHANNEL_RTP:
                continue
            form = forms[tick % len(forms)]
            if form != "plain":
                data = _with_extras(data, form)
            b.receive((bytes, bytearray, memoryview)[tick % 3](data), PEER, now + 0.01)
        played.append(b.get_frame(now + 0.015))
    expected = [g711.ulaw_decode(g711.ulaw_encode(pcm)) for pcm in sent]
    start = played.index(expected[1])
    assert played[start:start + 100] == expected[1:101]
    stats = b.stats()
    assert stats["malformed"] == 0 and stats["unknown_payload"] == 0
    assert stats["packets_received"] == 119 and stats["packets_lost"] == 0


def test_rtcp_starting_like_a_plain_rtp_header_is_taken_as_rtcp():
    # An SR without report blocks starts 0x80 like most RTP packets; on the
    # RTP socket only its second octet (200) says it is RTCP (RFC 5761).
    stream = _stream()
    for k in range(3):
        stream.receive(encode_rtp(0, 50 + k, 160 * k, 77, bytes(160)), PEER, k * 0.02)
    sr = encode_sender_report(SenderReport(77, ntp_timestamp(3900000123.5), 320, 3, 480))
    assert sr[0] == 0x80 and sr[1] == 200
    stream.receive(sr, PEER, 0.1)
    assert stream.reception.last_sr == ntp_middle(ntp_timestamp(3900000123.5))
    assert stream.malformed == 0 and stream.unknown_payload == 0
    stream.receive(b"\x80\xc9\x00", PEER, 0.12)  # an RR cut short: malformed RTCP
    assert stream.malformed == 1 and stream.unknown_payload == 0
