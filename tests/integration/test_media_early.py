"""Early media end to end: the phone plays what the network sends before the answer.

Rule: tools/phonesim (a subprocess on the simulated board, real clock) calls
sipp through Kamailio over TLS. sipp answers the INVITE with 183 Session
Progress carrying SDP, plays an RTP stream of a 1 kHz tone from a pcap file
(``play_pcap_audio``: the stream is written here, encoded with the stdlib's
reference G.711, not the firmware's), and sends 200 OK 1.5 s later; from then
on it echoes the phone's RTP (``-rtp_echo``). The phone's microphone is a
600 Hz tone. The speaker WAV starts when the call's audio starts, at the
early media: before the answer it must hold the 1 kHz tone and nothing of
the microphone (the phone sends nothing before the answer, so the echo has
nothing to return), after the answer the microphone's 600 Hz coming back.
"""

import math
import struct
import warnings

from phonetest import DOMAIN, KamailioPool, certs, goertzel, named, phone_config, run_phonesim

from firmware.hal.sim.audio import read_wav
from tools.peers import Sipp, free_port_pair

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import audioop
    except ImportError:  # Python 3.13 and later: the audioop-lts package
        import audioop_lts as audioop

__all__ = ["certs"]          # the session fixture, imported for pytest

RATE = 8000
EARLY_TONE_HZ = 1000.0
MIC_HZ = 600.0
EARLY_STREAM_S = 1.2         # the pcap's length; sipp answers 1.5 s after the 183
BINS = (400.0, 425.0, 600.0, 1000.0, 1400.0, 2000.0)  # 425 Hz: the phone's own ringback

SCRIPT = """wait REGISTERED 5
call sip:sipp@remote.test
wait EARLYMEDIA 5
wait CONNECTED 5
sleep 1.5
hangup
wait RELEASECALL 5
quit
"""

# the same call dialled on the handset: its own ringback must give way to the network's
HANDSET_SCRIPT = """wait REGISTERED 5
offhook
press 2002#
wait EARLYMEDIA 5
wait tone none 2
expect display Ringing
wait CONNECTED 5
sleep 1.0
onhook
wait RELEASECALL 5
quit
"""


def write_rtp_pcap(path, seconds, hz, payload_type=0, ptime_ms=20):
    """A pcap (Ethernet, IPv4, UDP) of one RTP stream of a PCMU tone, one packet
    per ``ptime_ms``, as sipp's play_pcap_audio replays it."""
    samples = int(RATE * ptime_ms / 1000)
    packets = []
    for index in range(int(seconds * 1000 / ptime_ms)):
        first = index * samples
        pcm = struct.pack("<%dh" % samples, *(
            int(8000 * math.sin(2 * math.pi * hz * (first + n) / RATE)) for n in range(samples)))
        rtp = struct.pack("!BBHII", 0x80, payload_type | (0x80 if index == 0 else 0),
                          index + 1000, first + 160000, 0x1ea51ea5) + audioop.lin2ulaw(pcm, 2)
        udp = struct.pack("!HHHH", 40000, 6000, 8 + len(rtp), 0) + rtp
        header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), index, 0x4000, 64, 17, 0,
                             bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
        checksum = sum(struct.unpack("!10H", header))
        checksum = (checksum & 0xFFFF) + (checksum >> 16)
        checksum = ~((checksum & 0xFFFF) + (checksum >> 16)) & 0xFFFF
        header = header[:10] + struct.pack("!H", checksum) + header[12:]
        frame = bytes(6) + bytes([2, 0, 0, 0, 0, 1]) + b"\x08\x00" + header + udp
        at = index * ptime_ms * 1000
        packets.append(struct.pack("<IIII", 1000 + at // 1000000, at % 1000000, len(frame),
                                   len(frame)) + frame)
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))  # DLT_EN10MB
        f.write(b"".join(packets))


def dominant(values):
    """(strongest bin, its power over the next strongest in dB)."""
    powers = sorted(((goertzel(values, hz), hz) for hz in BINS), reverse=True)
    return powers[0][1], 10 * math.log10(powers[0][0] / max(powers[1][0], 1e-9))


def early_media_call(tmp_path, certs, script, *phonesim_args, **kamailio_options):
    """The phone runs ``script`` against sipp's early media (answer_early.xml) and
    records its speaker; (events, speaker samples at RATE)."""
    pcap = tmp_path / "early.pcap"
    speaker = tmp_path / "speaker.wav"
    write_rtp_pcap(str(pcap), EARLY_STREAM_S, EARLY_TONE_HZ)
    with KamailioPool(tmp_path, certs) as pool, \
            Sipp(tmp_path / "uas", "answer_early", service="sipp", keys={"pcap": pcap},
                 rtp_echo=True, timeout_s=30) as uas:
        kam = pool.start(remote_port=uas.port, **kamailio_options)
        doc = phone_config(certs, kam, media={"rtp_port": free_port_pair(1)})
        code, output, events = run_phonesim(tmp_path, doc, script, "--speaker", speaker,
                                            *phonesim_args)
    assert code == 0, output + uas.report()
    assert "PASS all expectations held" in output
    rate, pcm = read_wav(str(speaker))
    assert rate == RATE
    return events, list(struct.unpack("<%dh" % (len(pcm) // 2), pcm))


def test_early_media_is_heard_before_the_answer_and_the_microphone_only_after(tmp_path, certs):
    events, heard = early_media_call(tmp_path, certs, SCRIPT, "--mic", "tone:%d" % MIC_HZ)
    names = [e.name for e in events]
    assert names.index("ALERTING") < names.index("EARLYMEDIA") < names.index("CONNECTED"), names
    start, connected = named(events, "RTP_START")[0], named(events, "CONNECTED")[0]
    assert start.time <= connected.time, names
    assert start.field("early") == "yes" and start.field("codec") == "PCMU", start
    update = named(events, "RTP_UPDATE")[0]
    assert update.field("early") is None and update.field("direction") == "sendrecv", update

    answer = int((connected.time - start.time) * RATE)
    early = heard[int(0.3 * RATE):int(1.0 * RATE)]
    after = heard[answer + int(0.5 * RATE):len(heard) - int(0.2 * RATE)]
    early_hz, early_db = dominant(early)
    after_hz, after_db = dominant(after)
    print("\nspeaker WAV %.2f s; answer at %.2f s; before it %g Hz by %.1f dB, after it "
          "%g Hz by %.1f dB" % (len(heard) / RATE, answer / RATE, early_hz, early_db,
                                after_hz, after_db))
    assert 1.2 * RATE < answer < 2.5 * RATE, answer
    assert early_hz == EARLY_TONE_HZ and early_db > 30.0, (early_hz, early_db)
    assert after_hz == MIC_HZ and after_db > 30.0, (after_hz, after_db)


def test_early_media_replaces_the_handsets_own_ringback(tmp_path, certs):
    # the handset dials numbers of its own domain: Kamailio sends those calls to sipp
    events, heard = early_media_call(tmp_path, certs, HANDSET_SCRIPT, remote_domain=DOMAIN)
    start, connected = named(events, "RTP_START")[0], named(events, "CONNECTED")[0]
    assert start.field("early") == "yes", start
    early_hz, early_db = dominant(heard[int(0.3 * RATE):int(1.0 * RATE)])
    print("\nhandset: before the answer %g Hz by %.1f dB" % (early_hz, early_db))
    assert early_hz == EARLY_TONE_HZ and early_db > 30.0, (early_hz, early_db)
    assert (connected.time - start.time) > 1.2, (start, connected)
