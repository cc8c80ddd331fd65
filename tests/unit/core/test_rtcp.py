"""RTCP packet coding and RFC 3550 reception statistics."""

import struct

from firmware.core.rtcp import (
    RTCP_BYE, RTCP_RR, RTCP_SDES, RTCP_SR, SDES_CNAME, Bye, ReceiverReport, ReceptionStats,
    ReportBlock, SenderReport, SourceDescription, decode_rtcp, encode_bye,
    encode_receiver_report, encode_sdes, encode_sender_report, is_rtcp, ntp_middle,
    ntp_timestamp)
from firmware.core.rtp import encode_rtp
from test_rtp import _raises


def test_rtcp_demultiplexing():
    assert is_rtcp(encode_receiver_report(ReceiverReport(1)))
    assert is_rtcp(encode_sdes(1, "x"))
    assert not is_rtcp(encode_rtp(0, 1, 2, 3, b""))
    assert not is_rtcp(encode_rtp(101, 1, 2, 3, b"", marker=True))
    assert not is_rtcp(b"\x80")


def test_ntp_conversion():
    assert ntp_timestamp(1.5) == (1 << 32) | (1 << 31)
    assert ntp_timestamp(0.25) == 1 << 30
    ntp = (0x12345678 << 32) | 0x9ABCDEF0
    assert ntp_middle(ntp) == 0x56789ABC


def test_sender_report_round_trip():
    blocks = [ReportBlock(0xCAFEBABE, 64, -3, 0x1FFFF, 123, 0x11112222, 0x8000),
              ReportBlock(2, 255, 0x7FFFFF, 5, 0, 0, 0)]
    report = SenderReport(0xAABBCCDD, (3000000000 << 32) | 0x80000000, 0xFFFFFFF0, 1000,
                          160000, blocks)
    data = encode_sender_report(report)
    assert len(data) == 28 + 2 * 24
    assert data[0] == 0x80 | 2 and data[1] == RTCP_SR
    assert struct.unpack("!H", data[2:4])[0] == len(data) // 4 - 1
    decoded = decode_rtcp(data)
    assert len(decoded) == 1
    sr = decoded[0]
    assert isinstance(sr, SenderReport)
    assert sr.ssrc == 0xAABBCCDD
    assert sr.ntp_timestamp == report.ntp_timestamp
    assert (sr.rtp_timestamp, sr.packet_count, sr.octet_count) == (0xFFFFFFF0, 1000, 160000)
    first, second = sr.reports
    assert (first.ssrc, first.fraction_lost, first.cumulative_lost) == (0xCAFEBABE, 64, -3)
    assert (first.highest_sequence, first.jitter, first.lsr, first.dlsr) == (
        0x1FFFF, 123, 0x11112222, 0x8000)
    assert (second.fraction_lost, second.cumulative_lost) == (255, 0x7FFFFF)


def test_receiver_report_sdes_and_bye_in_one_compound_packet():
    data = (encode_receiver_report(ReceiverReport(7, [ReportBlock(9, 1, 2, 3, 4, 5, 6)]))
            + encode_sdes(7, "phone@example") + encode_bye([7], "hung up"))
    assert len(data) % 4 == 0
    rr, sdes, bye = decode_rtcp(data)
    assert isinstance(rr, ReceiverReport) and rr.ssrc == 7
    assert rr.reports[0].ssrc == 9 and rr.reports[0].dlsr == 6
    assert isinstance(sdes, SourceDescription)
    assert sdes.cname(7) == b"phone@example"
    assert sdes.cname(8) is None
    assert isinstance(bye, Bye)
    assert bye.ssrcs == [7] and bye.reason == b"hung up"


def test_sdes_padding_for_every_cname_length():
    for length in range(1, 12):
        cname = "c" * length
        data = encode_sdes(0x01020304, cname)
        assert len(data) % 4 == 0
        assert data[1] == RTCP_SDES
        assert data[8] == SDES_CNAME and data[9] == length
        assert decode_rtcp(data)[0].cname(0x01020304) == cname.encode()


def test_empty_reports_and_bye_without_reason():
    rr = encode_receiver_report(ReceiverReport(5))
    assert len(rr) == 8 and rr[1] == RTCP_RR and rr[0] == 0x80
    bye = encode_bye([1, 2])
    assert bye[1] == RTCP_BYE and bye[0] & 0x1F == 2
    decoded = decode_rtcp(rr + bye)
    assert decoded[0].reports == []
    assert decoded[1].ssrcs == [1, 2] and decoded[1].reason == b""


def test_unknown_rtcp_types_are_skipped():
    app = struct.pack("!BBHI4s", 0x80, 204, 2, 1, b"name")
    data = encode_receiver_report(ReceiverReport(3)) + app + encode_bye([3])
    decoded = decode_rtcp(data)
    assert len(decoded) == 2
    assert isinstance(decoded[1], Bye)


def test_malformed_rtcp_is_rejected():
    rr = encode_receiver_report(ReceiverReport(3, [ReportBlock(1, 0, 0, 0, 0, 0, 0)]))
    assert _raises(decode_rtcp, rr[:3])
    assert _raises(decode_rtcp, rr[:-4])  # length field longer than the data
    assert _raises(decode_rtcp, bytes([0x40]) + rr[1:])
    claims_two = bytes([0x82]) + rr[1:]  # two report blocks announced, one present
    assert _raises(decode_rtcp, claims_two)
    sdes = bytearray(encode_sdes(1, "abc"))
    sdes[9] = 200  # item length past the end
    assert _raises(decode_rtcp, bytes(sdes))
    assert not _raises(decode_rtcp, rr)


def test_new_source_is_on_probation_for_one_packet():
    stats = ReceptionStats(0x1111)
    assert stats.update(100, 0, 0.0) is False
    assert not stats.valid
    assert stats.update(101, 160, 0.02) is True
    assert stats.valid
    assert stats.received == 1 and stats.expected == 1
    assert stats.update(102, 320, 0.04) is True
    assert stats.received == 2 and stats.cumulative_lost == 0


def test_probation_restarts_on_a_gap():
    stats = ReceptionStats(1)
    assert stats.update(10, 0, 0.0) is False
    assert stats.update(20, 0, 0.0) is False  # not consecutive: start over
    assert stats.update(21, 0, 0.0) is True
    assert stats.base_seq == 21


def test_without_probation_the_first_packet_counts():
    stats = ReceptionStats(1, probation=0)
    assert stats.update(65535, 0, 0.0) is True
    assert stats.update(0, 160, 0.02) is True
    assert stats.received == 2
    assert stats.extended_max == 65536
    assert stats.expected == 2


def test_sequence_wrap_extends_the_highest_sequence_number():
    stats = ReceptionStats(1, probation=1)
    seq = 65530
    for _ in range(12):
        assert stats.update(seq & 0xFFFF, 0, 0.0)
        seq += 1
    assert stats.cycles == 65536
    assert stats.extended_max == 65541
    assert stats.expected == 12 and stats.received == 12
    block = stats.report_block(1.0)
    assert block.highest_sequence == 65541
    assert block.cumulative_lost == 0 and block.fraction_lost == 0


def test_loss_figures_per_interval():
    stats = ReceptionStats(1, probation=1)
    for seq in range(1000, 1100):
        if seq % 10 != 5:  # lose one packet in ten
            stats.update(seq, 0, 0.0)
    block = stats.report_block(5.0)
    assert block.cumulative_lost == 10
    assert block.fraction_lost == (10 << 8) // 100
    for seq in range(1100, 1200):
        stats.update(seq, 0, 0.0)  # no loss in the second interval
    block = stats.report_block(10.0)
    assert block.cumulative_lost == 10
    assert block.fraction_lost == 0
    for seq in range(1200, 1300, 2):
        stats.update(seq, 0, 0.0)  # half lost (the last one of the range too)
    block = stats.report_block(15.0)
    assert block.cumulative_lost == 10 + 49
    assert block.fraction_lost == (49 << 8) // 99


def test_duplicates_make_cumulative_loss_negative():
    stats = ReceptionStats(1, probation=1)
    for seq in (1, 2, 2, 3, 3, 3):
        stats.update(seq, 0, 0.0)
    assert stats.received == 6 and stats.expected == 3
    assert stats.cumulative_lost == -3
    block = stats.report_block(1.0)
    assert block.cumulative_lost == -3 and block.fraction_lost == 0
    data = encode_receiver_report(ReceiverReport(9, [block]))
    assert decode_rtcp(data)[0].reports[0].cumulative_lost == -3


def test_large_sequence_jump_is_believed_only_when_followed():
    stats = ReceptionStats(1, probation=1)
    for seq in range(100, 110):
        stats.update(seq, 0, 0.0)
    assert stats.update(40000, 0, 0.0) is False
    assert stats.update(40001, 0, 0.0) is True  # the source restarted its numbering
    assert stats.base_seq == 40001
    assert stats.received == 1


def test_interarrival_jitter_follows_rfc3550_a8():
    stats = ReceptionStats(1, probation=1)
    expected = 0.0
    previous_transit = None
    delays = [0.0, 0.010, 0.002, 0.030, 0.0, 0.005, 0.020, 0.001] * 10
    for k, delay in enumerate(delays):
        arrival = 10.0 + k * 0.020 + delay
        timestamp = 1000 + k * 160
        stats.update(k, timestamp, arrival)
        transit = int(arrival * 8000) - timestamp
        if previous_transit is not None:
            d = abs(transit - previous_transit)
            expected += (d - expected) / 16.0
        previous_transit = transit
    assert abs(stats.jitter - expected) <= 1.5, (stats.jitter, expected)
    assert stats.jitter > 40  # about 10 ms of variation, in 8 kHz units


def test_jitter_is_zero_for_a_steady_stream_across_timestamp_wrap():
    stats = ReceptionStats(1, probation=1)
    ts = (1 << 32) - 800
    for k in range(20):
        stats.update(k, (ts + 160 * k) & 0xFFFFFFFF, 3.0 + 0.02 * k)
    assert stats.jitter == 0


def test_event_packets_can_be_left_out_of_the_jitter():
    stats = ReceptionStats(1, probation=1)
    for k in range(10):
        stats.update(k, 5000, 1.0 + 0.05 * k, measure_jitter=False)
    assert stats.jitter == 0 and stats.received == 10


def test_lsr_and_dlsr_from_the_last_sender_report():
    stats = ReceptionStats(1, probation=1)
    stats.update(1, 0, 0.0)
    block = stats.report_block(1.0)
    assert block.lsr == 0 and block.dlsr == 0
    ntp = ntp_timestamp(3900000000.75)
    stats.on_sender_report(ntp, 10.0)
    block = stats.report_block(10.5)
    assert block.lsr == ntp_middle(ntp)
    assert block.dlsr == 32768  # 0.5 s in 1/65536 s


def _a8_reference(packets):
    """(received, jitter times 16) by RFC 3550 A.1/A.8 for packets that all count."""
    jitter = 0
    last = None
    for _, timestamp, arrival in packets:
        transit = int(arrival * 8000) - timestamp
        if last is not None:
            d = ((transit - last + 0x80000000) & 0xFFFFFFFF) - 0x80000000
            jitter += abs(d) - ((jitter + 8) >> 4)
        last = transit
    return len(packets), jitter


def test_in_order_packets_and_the_others_are_accounted_alike():
    # In-order packets take a shortcut; wrap-around, reordering, duplicates
    # and gaps do not. Interleaved, the figures must come out as A.1/A.8 say.
    sequence = [65531, 65532, 65533, 65535, 65534, 0, 1, 1, 2, 5, 3, 4, 6, 7, 8]
    packets = []
    for k, seq in enumerate(sequence):
        sent = (seq - 65531) & 0xFFFF
        timestamp = (0xFFFFF000 + 160 * sent) & 0xFFFFFFFF
        arrival = 50.0 + 0.02 * k + (0.0, 0.004, 0.011, 0.001)[k % 4]
        packets.append((seq, timestamp, arrival))
    stats = ReceptionStats(0x42, probation=1)
    for k, (seq, timestamp, arrival) in enumerate(packets):
        assert stats.update(seq, timestamp, arrival) is True
        received, jitter_q4 = _a8_reference(packets[:k + 1])
        assert stats.received == received, k
        assert stats.jitter_q4 == jitter_q4, k
    assert stats.cycles == 65536 and stats.extended_max == 65536 + 8
    assert stats.expected == 14 and stats.cumulative_lost == 14 - 15


def test_in_order_packets_without_jitter_measurement_leave_it_alone():
    stats = ReceptionStats(1, probation=1)
    for k in range(5):
        stats.update(100 + k, 160 * k, 0.02 * k + (0.003 if k % 2 else 0.0))
    jitter_q4, transit = stats.jitter_q4, stats.transit
    for k in range(5, 10):
        assert stats.update(100 + k, 99, 0.02 * k + 0.5, measure_jitter=False) is True
    assert (stats.jitter_q4, stats.transit) == (jitter_q4, transit)
    assert stats.received == 10 and stats.max_seq == 109
