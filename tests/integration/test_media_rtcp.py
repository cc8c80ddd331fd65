"""RTCP on the wire, judged by tshark: reports every few seconds, then BYE.

Rule: tools/phonesim (a subprocess, on the simulated board, real clock)
calls sipp through Kamailio over TLS for 7 s; sipp echoes the phone's RTP
(``-rtp_echo``), so the phone both sends and receives. Everything to and
from the phone's RTP and RTCP ports is captured on the loopback, and tshark's
own RTP and RTCP dissectors read it back. The phone's RTCP must be RFC 3550
compound packets: a sender report first (its SSRC the one of the phone's
RTP, its packet count what the phone had sent by then, a report block
about the echoed stream), an SDES with a CNAME, the first half an interval after the stream starts
and the next ones 2.5 to 7.5 s apart (5 s times a random factor), and a
last one ending with BYE when the call ends. Nothing may be malformed.
"""


from phonetest import (KamailioPool, certs, named, phone_config, run_phonesim,
                       sipp_call_script)

from tools.peers import LoopbackCapture, Sipp, free_port_pair

__all__ = ["certs"]          # the session fixture, imported for pytest

CALL_S = 7.0
SR, RR, SDES, BYE = 200, 201, 202, 203
EXPERT_ERROR = 0x00800000    # tshark's expert severity "error"
SCRIPT = sipp_call_script(CALL_S)
FIELDS = ("frame.number", "frame.time_relative", "udp.srcport", "udp.dstport", "rtp.ssrc",
          "rtcp.pt", "rtcp.senderssrc", "rtcp.sender.packetcount", "rtcp.ssrc.identifier",
          "rtcp.ssrc.cum_nr", "rtcp.sdes.type", "rtcp.sdes.text", "_ws.malformed",
          "_ws.expert.severity")


def read_packets(capture, rtp_port):
    """One dict per captured packet of the phone's RTP and RTCP ports."""
    args = ["-d", "udp.port==%d,rtp" % rtp_port, "-d", "udp.port==%d,rtcp" % (rtp_port + 1),
            "-Y", "udp.port==%d || udp.port==%d" % (rtp_port, rtp_port + 1),
            "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,"]
    for field in FIELDS:
        args += ["-e", field]
    packets = []
    for line in capture.read(args).splitlines():
        values = line.split("\t")
        packets.append({name: values[i] if i < len(values) else ""
                        for i, name in enumerate(FIELDS)})
    return packets


def ints(text):
    return [int(v, 0) for v in text.split(",") if v]


def test_the_phone_sends_rfc3550_reports_and_a_bye_that_tshark_reads(tmp_path, certs):
    rtp_port = free_port_pair(1)
    capture = LoopbackCapture(tmp_path / "tshark", "udp port %d or udp port %d"
                              % (rtp_port, rtp_port + 1), "media")
    with KamailioPool(tmp_path, certs) as pool, \
            Sipp.uas(tmp_path / "uas", rtp_echo=True, timeout_s=30) as uas, capture:
        kam = pool.start(remote_port=uas.port)
        doc = phone_config(certs, kam, media={"rtp_port": rtp_port})
        code, output, events = run_phonesim(tmp_path, doc, SCRIPT, "--mic", "tone:1000")
    assert code == 0, output

    packets = read_packets(capture, rtp_port)
    malformed = [p for p in packets if p["_ws.malformed"]
                 or any(level >= EXPERT_ERROR for level in ints(p["_ws.expert.severity"]))]
    assert not malformed, malformed
    sent_rtp = [p for p in packets if p["udp.srcport"] == str(rtp_port) and p["rtp.ssrc"]]
    assert len(sent_rtp) >= 0.9 * CALL_S * 50, len(sent_rtp)
    ssrc = int(sent_rtp[0]["rtp.ssrc"], 0)
    assert {int(p["rtp.ssrc"], 0) for p in sent_rtp} == {ssrc}
    reports = [p for p in packets if p["udp.srcport"] == str(rtp_port + 1)]
    stops = named(events, "RTP_STOP")
    assert reports, output
    print("\nRTCP from the phone: %d compound packets at %s s; RTP sent %d"
          % (len(reports), ", ".join("%.2f" % float(p["frame.time_relative"]) for p in reports),
             len(sent_rtp)))
    for report in reports:
        types = ints(report["rtcp.pt"])
        assert types[0] == SR and SDES in types, report          # RFC 3550 6.1
        assert ints(report["rtcp.senderssrc"])[0] == ssrc, report
        assert "1" in report["rtcp.sdes.type"].split(",") and report["rtcp.sdes.text"], report
        # the sender's packet count: what the phone had sent when it reported
        count = ints(report["rtcp.sender.packetcount"])[0]
        before = len([p for p in sent_rtp if int(p["frame.number"]) < int(report["frame.number"])])
        assert before - 2 <= count <= before + 1, (count, before, report)
    for report in reports[:-1]:
        # the echoed stream is reported on (its source is the phone's own SSRC)
        assert ssrc in ints(report["rtcp.ssrc.identifier"]), report
        assert ints(report["rtcp.ssrc.cum_nr"]) == [0], report
        assert BYE not in ints(report["rtcp.pt"]), report
    assert ints(reports[-1]["rtcp.pt"])[-1] == BYE, reports[-1]
    assert len(reports) >= 2, reports
    # the first report after half an interval (RFC 3550 6.2), the next ones
    # an interval (5 s times 0.5..1.5) apart
    times = [float(p["frame.time_relative"]) for p in reports[:-1]]
    first_rtp = float(sent_rtp[0]["frame.time_relative"])
    assert 1.2 <= times[0] - first_rtp <= 3.8, (times, first_rtp)
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert all(2.4 <= gap <= 7.6 for gap in gaps), gaps
    assert len(stops) == 1 and int(stops[0].field("sent")) >= len(sent_rtp) - 1
