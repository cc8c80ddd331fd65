"""RFC 4733 DTMF against a peer that is not our own code: sipp sends, tshark judges.

Rule: tools/phonesim (a subprocess, on the simulated board, real clock)
registers with Kamailio over TLS and calls sipp through the proxy; sipp's
media port is captured on the loopback with tshark (tools.peers.RtpCapture),
which decodes RTP and telephone-events with its own dissectors.

- Received: sipp answers with PCMU and telephone-event at payload type 101
  (the type of sipp's own DTMF captures) and plays its captures of the keys
  1, 5 and 9 (play_pcap_audio) to the RTP address of the phone's SDP. The
  phone must report exactly those digits, in order, as ``DTMF`` events.
- Sent: a phone with its handset dials sipp, which answers telephone-event at
  payload type 96 (not the 101 the phone offers: the phone must send with the
  type of the answer), and keys pressed in the call go out as RFC 4733 events.
  Per digit on the wire: the event code, the marker on its first packet only,
  one timestamp, durations that never decrease, exactly three end packets with
  the final duration, no audio packet inside the event's time span, and one
  sequence-number space shared with the audio packets around it.
"""

import re

from phonetest import DOMAIN, KamailioPool, certs, named, phone_config, run_phonesim

from tools.peers import (RtpCapture, Sipp, free_port_pair, kamailio_module_dir,
                         require_program, sipp_pcap)

__all__ = ["certs"]          # the session fixture, imported for pytest

PLAYED = "159"                                       # answer_dtmf.xml plays these keys
PCAPS = ["dtmf_2833_%s.pcap" % key for key in PLAYED]
PCAP_EVENT_PT = 101          # the payload type of sipp's dtmf_2833_*.pcap captures
ANSWER_EVENT_PT = 96         # what sipp answers in the sending test
PCMU = 0
PRESSED = "19*#"
# RFC 4733 3.2, written out here rather than taken from the firmware it judges
EVENT_CODES = {key: code for code, key in enumerate("0123456789*#ABCD")}
END_REPEATS = 3              # RFC 4733 2.5.1.4: the end packet goes out three times


def require_peers():
    """Fail at once, saying how to install it, when a program these tests drive
    is missing (PeerMissing), as every integration test does."""
    for name in ("kamailio", "kamcmd", "sipp", "tshark"):
        require_program(name)
    kamailio_module_dir(require_program("kamailio"))
    for name in PCAPS:
        sipp_pcap(name)


def finish(sipp, phonesim_code):
    """sipp's exit status: waited for when the phone's script went through (the call
    ended), else sipp is stopped at once rather than left to its timeout."""
    return sipp.wait(10) if phonesim_code == 0 else sipp.stop()


def sdp_of(messages, first_line):
    """The SDP body lines of the first message in sipp's -trace_msg log whose start
    line begins with ``first_line`` ("INVITE ", "SIP/2.0 200")."""
    for block in re.split(r"\n-{5,}[^\n]*\n", messages):
        lines = [line.strip() for line in block.strip().splitlines()]
        starts = [i for i, line in enumerate(lines) if line.startswith(first_line)]
        if starts and any(line.startswith("m=audio ") for line in lines[starts[0]:]):
            return [line for line in lines[starts[0]:] if re.match(r"^[a-z]=", line)]
    raise AssertionError("no %r with SDP in sipp's message log:\n%s" % (first_line, messages))


def audio_port(sdp):
    return int(next(line for line in sdp if line.startswith("m=audio ")).split()[1])


def telephone_event_pt(sdp):
    for line in sdp:
        found = re.match(r"^a=rtpmap:(\d+) telephone-event/8000", line)
        if found:
            return int(found.group(1))
    raise AssertionError("no telephone-event in %s" % sdp)


# --- receiving ------------------------------------------------------------------------

RECEIVE_SCRIPT = """wait REGISTERED 5
call sip:sipp@remote.test
wait CONNECTED 5
wait DTMF 5
wait DTMF 3
wait DTMF 3
sleep 0.6
hangup
wait RELEASECALL 5
quit
"""


def test_digits_sipp_plays_are_reported_once_each_in_order(tmp_path, certs):
    require_peers()
    uas = Sipp(tmp_path / "uas", "answer_dtmf", service="sipp", media=True, timeout_s=20)
    uas.link_pcaps(*PCAPS)
    with KamailioPool(tmp_path, certs) as pool, uas, \
            RtpCapture(tmp_path / "tshark", uas.media_port) as rtp:
        kam = pool.start(remote_port=uas.port)
        doc = phone_config(certs, kam, media={"rtp_port": free_port_pair(1)})
        code, output, events = run_phonesim(tmp_path, doc, RECEIVE_SCRIPT,
                                            "--speaker", str(tmp_path / "speaker.wav"))
        sipp_code = finish(uas, code)
    packets = rtp.packets()
    digits = [e.field("digit") for e in named(events, "DTMF")]
    assert digits == list(PLAYED), output
    assert code == 0, output
    assert sipp_code == 0, uas.report()

    # the phone's SDP offered the RTP address sipp played to
    offer = sdp_of(uas.messages(), "INVITE ")
    assert "c=IN IP4 127.0.0.1" in offer, offer
    phone_port = audio_port(offer)
    played = [p for p in packets if p["src_port"] == uas.media_port]
    assert played, "sipp played nothing:\n%s" % uas.report()
    assert {p["dst_port"] for p in played} == {phone_port}, (phone_port, played)
    assert {p["payload_type"] for p in played} == {PCAP_EVENT_PT}, played
    assert [p["event"] for p in played] == [EVENT_CODES[k] for k in PLAYED for _ in range(10)]
    # and the phone sent its own RTP to the address of sipp's answer
    assert any(p["src_port"] == phone_port for p in packets), "the phone sent no RTP"

    started = named(events, "RTP_START")
    assert len(started) == 1, output
    assert started[0].field("dtmf") == str(PCAP_EVENT_PT), started[0]
    assert started[0].field("remote") == "127.0.0.1:%d" % uas.media_port, started[0]
    assert all(e.field("call") == started[0].field("call") for e in named(events, "DTMF")), output


# --- sending --------------------------------------------------------------------------

SEND_SCRIPT = """wait REGISTERED 5
offhook
press 2002#
wait CONNECTED 5
sleep 0.3
press %s
wait DTMF_SENT 3
wait DTMF_SENT 3
wait DTMF_SENT 3
wait DTMF_SENT 3
sleep 1.5
onhook
wait RELEASECALL 5
quit
""" % PRESSED


def split_events(sent, event_pt):
    """The phone's packets as runs: ("audio", [packets]) and ("event", [packets]),
    an event run being consecutive telephone-event packets of one timestamp."""
    runs = []
    for packet in sent:
        kind = "event" if packet["payload_type"] == event_pt else "audio"
        last = runs[-1] if runs else None
        if last is not None and last[0] == kind and (
                kind == "audio" or last[1][-1]["timestamp"] == packet["timestamp"]):
            last[1].append(packet)
        else:
            runs.append((kind, [packet]))
    return runs


def check_event(index, run, before, after):
    """One digit's packets, as RFC 4733 2.5 wants them; ``before``/``after``: the
    audio packets around it (or None)."""
    where = "digit %d %r: %s" % (index, PRESSED[index], run)
    assert {p["event"] for p in run} == {EVENT_CODES[PRESSED[index]]}, where
    assert [p["marker"] for p in run] == [True] + [False] * (len(run) - 1), where
    assert len({p["timestamp"] for p in run}) == 1, where
    durations = [p["duration"] for p in run]
    assert durations == sorted(durations), where
    ends = [p["end"] for p in run]
    assert ends == [False] * (len(run) - END_REPEATS) + [True] * END_REPEATS, where
    assert len(set(durations[-END_REPEATS:])) == 1, where
    # the audio around it does not overlap the tone's time span
    start, final = run[0]["timestamp"], durations[-1]
    if before is not None:
        assert (start - before[-1]["timestamp"]) % (1 << 32) < (1 << 31), where
    if after is not None:
        assert (after[0]["timestamp"] - start) % (1 << 32) >= final, where


def test_keys_pressed_in_a_call_go_out_as_rfc4733_events(tmp_path, certs):
    require_peers()
    uas = Sipp(tmp_path / "uas", "answer_telephone_event", service="sipp", media=True,
               keys={"dtmf_pt": ANSWER_EVENT_PT}, timeout_s=20)
    with KamailioPool(tmp_path, certs) as pool, uas, \
            RtpCapture(tmp_path / "tshark", uas.media_port,
                       event_payload_types=(ANSWER_EVENT_PT,)) as rtp:
        # the handset dials numbers of its own domain: send those calls to sipp
        kam = pool.start(remote_port=uas.port, remote_domain=DOMAIN)
        doc = phone_config(certs, kam, media={"rtp_port": free_port_pair(1)})
        code, output, events = run_phonesim(tmp_path, doc, SEND_SCRIPT)
        sipp_code = finish(uas, code)
    assert [e.field("digit") for e in named(events, "DTMF_SENT")] == list(PRESSED), output
    assert code == 0, output
    assert sipp_code == 0, uas.report()

    answer = sdp_of(uas.messages(), "SIP/2.0 200")
    negotiated = telephone_event_pt(answer)
    assert negotiated == ANSWER_EVENT_PT, answer
    started = named(events, "RTP_START")
    assert len(started) == 1 and started[0].field("dtmf") == str(negotiated), output

    sent = rtp.packets(dst_port=uas.media_port)
    assert sent, "the phone sent no RTP to sipp"
    assert {p["payload_type"] for p in sent} == {PCMU, negotiated}, \
        sorted({p["payload_type"] for p in sent})
    assert len({p["ssrc"] for p in sent}) == 1, "one source for audio and events"
    seqs = [p["seq"] for p in sent]
    gaps = [(b - a) % 65536 for a, b in zip(seqs, seqs[1:], strict=False)]
    assert set(gaps) == {1}, "sequence numbers: %s" % seqs

    runs = split_events(sent, negotiated)
    digits = [(i, run) for i, (kind, run) in enumerate(runs) if kind == "event"]
    assert len(digits) == len(PRESSED), [(k, len(r)) for k, r in runs]
    assert runs[0][0] == "audio" and runs[-1][0] == "audio", [(k, len(r)) for k, r in runs]
    for index, (at, run) in enumerate(digits):
        before = runs[at - 1][1] if runs[at - 1][0] == "audio" else None
        after = runs[at + 1][1] if runs[at + 1][0] == "audio" else None
        check_event(index, run, before, after)
