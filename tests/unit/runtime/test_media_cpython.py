"""The media runtime on real loopback sockets and simulated sound cards, on a virtual clock.

Two ``Media`` objects stand for two phones in one call: each has its own
simulated card (paced by the shared virtual clock) and its own RTP/RTCP socket
pair on 127.0.0.1, and the test plays the phone's loop, calling ``on_timer`` at
``next_deadline()``. Call control is modelled by the few attributes the media
runtime reads (``phone.calls.call(n).media`` / ``.local_rtp_port``).
"""

import math
import socket
import struct

from firmware.app.callcontrol import CallEvent
from firmware.core.offeranswer import Negotiated
from firmware.hal.sim.audio import SimAudio
from firmware.runtime.media import Media, mix

LOCALHOST = "127.0.0.1"


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class Section:
    def __init__(self, **fields):
        self.__dict__.update(fields)


class FakeCall:
    def __init__(self, number, port, media):
        self.number = number
        self.local_rtp_port = port
        self.media = media


class FakePhone:
    """What Media uses of runtime.phone.Phone."""

    def __init__(self, clock, symmetric_rtp=False):
        self.clock = clock
        self.config = Section(listen=Section(address=LOCALHOST),
                              media=Section(symmetric_rtp=symmetric_rtp))
        self.events = []
        self.media = None
        self.calls = Section(call=self._call)
        self.by_number = {}

    def _call(self, number):
        return self.by_number.get(number)

    def on_event(self, event):
        self.events.append(event)

    def named(self, name):
        return [str(e) for e in self.events if e.name == name]


def free_pair():
    """An even UDP port p with p and p + 1 free."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((LOCALHOST, 0))
            port = s.getsockname()[1] & ~1
        try:
            probes = []
            for p in (port, port + 1):
                probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                probes.append(probe)
                probe.bind((LOCALHOST, p))
            return port
        except OSError:
            continue
        finally:
            for probe in probes:
                probe.close()
    raise AssertionError("no free UDP port pair")


def negotiated(remote_port, direction="sendrecv", codec="PCMU", pt=0, dtmf=101):
    return Negotiated(codec, pt, 8000, dtmf, 20, LOCALHOST, remote_port, direction)


class Pair:
    """Phones A and B in one call (call 1 on each side), not yet connected."""

    def __init__(self, capture_a="tone:1000", capture_b="tone:600", rate_a=8000, rate_b=8000,
                 codec="PCMU", pt=0, symmetric_a=False):
        self.clock = Clock()
        self.phones = []
        self.medias = []
        self.devices = []
        ports = [free_pair(), free_pair()]
        while ports[1] == ports[0]:
            ports[1] = free_pair()
        for index, (capture, rate) in enumerate(((capture_a, rate_a), (capture_b, rate_b))):
            phone = FakePhone(self.clock, symmetric_a and index == 0)
            device = SimAudio(capture, "memory", clock=self.clock)
            media = Media(phone, device, rate, 20, own_task=False)
            phone.media = media
            other = ports[1 - index]
            phone.by_number[1] = FakeCall(1, ports[index], negotiated(other, codec=codec, pt=pt))
            self.phones.append(phone)
            self.medias.append(media)
            self.devices.append(device)
        self.a, self.b = self.medias

    def event(self, index, name, now=None):
        self.medias[index].call_event(CallEvent(name, 1), self.clock.now if now is None
                                      else now)

    def connect(self):
        self.event(0, "CONNECTED")
        self.event(1, "CONNECTED")

    def run(self, seconds):
        """Play the phones' loop: wake at the earliest media deadline."""
        end = self.clock.now + seconds
        while True:
            deadlines = [d for d in (m.next_deadline() for m in self.medias) if d is not None]
            if not deadlines or min(deadlines) > end:
                self.clock.now = end
                return
            step = min(deadlines)
            self.clock.now = max(step, self.clock.now)
            for media in self.medias:
                media.on_timer(self.clock.now)

    def close(self):
        for media in self.medias:
            media.close()


def samples(pcm):
    return struct.unpack("<%dh" % (len(pcm) // 2), pcm)


def goertzel_power(values, hz, rate=8000):
    """Power of one frequency bin (Goertzel), normalised by the length."""
    coeff = 2.0 * math.cos(2.0 * math.pi * hz / rate)
    s1 = s2 = 0.0
    for x in values:
        s0 = x + coeff * s1 - s2
        s2 = s1
        s1 = s0
    return (s1 * s1 + s2 * s2 - coeff * s1 * s2) / (len(values) or 1)


def dominant(pcm, candidates, rate=8000):
    values = samples(pcm)
    powers = [(goertzel_power(values, hz, rate), hz) for hz in candidates]
    powers.sort(reverse=True)
    return powers[0][1], powers[0][0] / max(powers[1][0], 1e-9)


CANDIDATES = (425, 600, 800, 1000, 1400, 2000)


def test_two_phones_hear_each_other_with_the_card_as_clock():
    pair = Pair()
    try:
        pair.connect()
        pair.run(1.0)
        a, b = pair.a.stats(1), pair.b.stats(1)
        # 1 s of a 20 ms card clock: 50 periods, each one packet
        assert 48 <= a["packets_sent"] <= 51 and 48 <= b["packets_sent"] <= 51, (a, b)
        assert b["packets_received"] >= a["packets_sent"] - 2, (a, b)
        assert a["packets_lost"] == 0 and b["packets_lost"] == 0
        heard_by_a = bytes(pair.devices[0].played[-8000:])   # the last 0.5 s
        heard_by_b = bytes(pair.devices[1].played[-8000:])
        assert dominant(heard_by_a, CANDIDATES)[0] == 600
        assert dominant(heard_by_b, CANDIDATES)[0] == 1000
        assert dominant(heard_by_b, CANDIDATES)[1] > 100  # > 20 dB above any other bin
        starts = pair.phones[0].named("RTP_START")
        assert len(starts) == 1 and "codec=PCMU pt=0 dtmf=101" in starts[0], starts
    finally:
        pair.close()
    stops = pair.phones[1].named("RTP_STOP")
    assert len(stops) == 1 and "lost=0" in stops[0], stops


def test_dtmf_goes_out_as_rfc4733_and_is_reported_by_the_far_end():
    pair = Pair()
    try:
        pair.connect()
        pair.run(0.2)
        assert pair.a.send_dtmf(1, "5#", 80)
        pair.run(1.0)
    finally:
        pair.close()
    assert pair.phones[1].named("DTMF") == ["DTMF call=1 digit=5", "DTMF call=1 digit=#"]
    assert pair.phones[0].named("DTMF") == []


def test_hold_stops_sending_and_resume_restarts_it():
    pair = Pair()
    try:
        pair.connect()
        pair.run(0.5)
        # A holds B: A's side is sendonly, B's recvonly; neither sends audio
        pair.phones[0].by_number[1].media.direction = "sendonly"
        pair.phones[1].by_number[1].media.direction = "recvonly"
        pair.event(0, "HOLDACK")
        pair.event(1, "MEDIA")
        sent_a, sent_b = pair.a.stats(1)["packets_sent"], pair.b.stats(1)["packets_sent"]
        pair.run(0.5)
        assert pair.a.stats(1)["packets_sent"] == sent_a
        assert pair.b.stats(1)["packets_sent"] == sent_b
        # B (recvonly) still plays what comes; A (sendonly) plays nothing: silence
        tail = samples(bytes(pair.devices[0].played[-1600:]))
        assert max(abs(v) for v in tail) == 0
        for phone in pair.phones:
            phone.by_number[1].media.direction = "sendrecv"
        pair.event(0, "RESUMEACK")
        pair.event(1, "MEDIA")
        pair.run(0.5)
        assert pair.a.stats(1)["packets_sent"] >= sent_a + 20
        assert pair.b.stats(1)["packets_sent"] >= sent_b + 20
        assert dominant(bytes(pair.devices[0].played[-1600:]), CANDIDATES)[0] == 600
    finally:
        pair.close()
    updates = pair.phones[0].named("RTP_UPDATE")
    assert [u.split("direction=")[1].split()[0] for u in updates] == ["sendonly", "sendrecv"]


def test_ringback_plays_until_connected_then_the_call_gets_a_fresh_device():
    pair = Pair()
    try:
        pair.event(0, "ALERTING")
        assert pair.a.tone is not None and pair.devices[0].is_open
        pair.run(0.6)
        ringing = bytes(pair.devices[0].played)
        assert len(ringing) >= 2 * 8000 * 0.5
        assert dominant(ringing, CANDIDATES)[0] == 425  # CEPT ringback, the default region
        pair.connect()
        assert pair.a.tone is None
        assert len(pair.devices[0].played) == 0  # reopened: the call's audio starts here
        pair.run(0.5)
        assert dominant(bytes(pair.devices[0].played[-4000:]), CANDIDATES)[0] == 600
        pair.event(0, "DROPCALL")
        assert not pair.devices[0].is_open  # nothing needs the card any more
    finally:
        pair.close()


def test_early_media_is_played_before_the_answer_and_nothing_is_sent_until_connected():
    pair = Pair()
    try:
        # B answers early (a 183 with SDP on A's side); B already sends its audio
        pair.event(0, "ALERTING")
        assert pair.a.tone is not None
        pair.event(0, "EARLYMEDIA")
        pair.event(1, "CONNECTED")
        assert pair.a.tone is None  # the network's audio replaces our ringback
        assert len(pair.devices[0].played) == 0  # on a fresh device
        pair.run(0.6)
        assert dominant(bytes(pair.devices[0].played[-3200:]), CANDIDATES)[0] == 600
        assert pair.a.stats(1)["packets_sent"] == 0  # nobody hears A before the answer
        assert pair.b.stats(1)["packets_received"] == 0
        played = len(pair.devices[0].played)
        pair.event(0, "ALERTING")  # a 180 after the 183 brings no ringback back
        assert pair.a.tone is None
        pair.event(0, "CONNECTED")
        assert len(pair.devices[0].played) == played  # the same device, the same stream
        pair.run(0.5)
        assert pair.a.stats(1)["packets_sent"] >= 20
        assert dominant(bytes(pair.devices[1].played[-3200:]), CANDIDATES)[0] == 1000
    finally:
        pair.close()
    starts = pair.phones[0].named("RTP_START")
    assert len(starts) == 1 and starts[0].endswith("early=yes"), starts
    updates = pair.phones[0].named("RTP_UPDATE")
    assert len(updates) == 1 and "early" not in updates[0], updates
    assert len(pair.phones[0].named("RTP_STOP")) == 1


def test_a_call_that_fails_after_early_media_stops_its_stream_and_frees_the_card():
    pair = Pair()
    try:
        pair.event(0, "ALERTING")
        pair.event(0, "EARLYMEDIA")
        pair.event(1, "CONNECTED")
        pair.run(0.4)
        assert pair.a.stats(1)["packets_received"] > 0
        pair.event(0, "TASKFAIL")  # e.g. the announcement ended with 404
        assert pair.a.stats(1) is None and not pair.devices[0].is_open
        assert pair.a.tone is None
    finally:
        pair.close()
    stops = pair.phones[0].named("RTP_STOP")
    assert len(stops) == 1 and " sent=0 " in stops[0], stops


def test_symmetric_rtp_answers_where_the_peer_sends_from_and_only_when_configured():
    for symmetric in (True, False):
        pair = Pair(symmetric_a=symmetric)
        try:
            # A's SDP says B is somewhere nobody listens (a NAT rewrote it)
            pair.phones[0].by_number[1].media.remote_port = free_pair()
            pair.connect()
            pair.run(1.0)
            heard_by_b = pair.b.stats(1)["packets_received"]
            if symmetric:
                assert heard_by_b >= 40, heard_by_b
                assert dominant(bytes(pair.devices[1].played[-3200:]), CANDIDATES)[0] == 1000
            else:
                assert heard_by_b == 0, heard_by_b
            assert pair.a.stats(1)["packets_received"] >= 45  # B's side was right all along
        finally:
            pair.close()


def test_ringback_stops_when_the_call_fails():
    pair = Pair()
    pair.event(0, "ALERTING")
    pair.run(0.1)
    pair.event(0, "TASKFAIL")
    assert pair.a.tone is None and not pair.devices[0].is_open
    pair.close()


def test_a_48k_card_is_resampled_both_ways():
    pair = Pair(rate_a=48000, codec="PCMA", pt=8)
    try:
        pair.connect()
        pair.run(1.0)
        assert pair.devices[0].rate == 48000
        heard_by_a = bytes(pair.devices[0].played[-48000:])  # 0.5 s at 48 kHz
        assert dominant(heard_by_a, CANDIDATES, 48000)[0] == 600
        heard_by_b = bytes(pair.devices[1].played[-8000:])
        assert dominant(heard_by_b, CANDIDATES)[0] == 1000
        assert "codec=PCMA pt=8" in pair.phones[0].named("RTP_START")[0]
    finally:
        pair.close()


def test_a_port_that_cannot_be_bound_is_reported_and_the_call_goes_on():
    pair = Pair()
    blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    blocker.bind((LOCALHOST, pair.phones[0].by_number[1].local_rtp_port))
    try:
        pair.connect()
        pair.run(0.2)
        errors = pair.phones[0].named("RTP_ERROR")
        assert len(errors) == 1 and "cannot bind" in errors[0], errors
        assert pair.a.stats(1) is None
    finally:
        blocker.close()
        pair.close()


def test_mix_clips_instead_of_wrapping():
    loud = struct.pack("<3h", 30000, -30000, 100)
    assert samples(mix(loud, loud)) == (32767, -32768, 200)


def test_an_application_tone_keeps_playing_into_the_call_on_a_fresh_device():
    pair = Pair()
    try:
        pair.a.ringback = False
        pair.event(0, "ALERTING")
        assert pair.a.tone is None and not pair.devices[0].is_open
        pair.a.play_tone("call_waiting")
        pair.run(0.3)
        assert len(pair.devices[0].played) > 0
        pair.connect()
        assert len(pair.devices[0].played) == 0 and pair.a.tone is not None
        pair.run(0.3)
        pair.a.stop_tone()
        assert pair.devices[0].is_open  # the call still needs it
    finally:
        pair.close()


def test_every_waiting_datagram_is_taken_in_one_tick():
    # One poll covers the RTP and RTCP socket of every call; whatever waits on
    # either is read before the tick plays its frame, a burst included.
    pair = Pair()
    try:
        pair.connect()
        pair.run(0.2)
        port = pair.phones[1].by_number[1].local_rtp_port
        before = pair.b.stats(1)["malformed"]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
            for _ in range(5):
                peer.sendto(b"\x80\x00\x01", (LOCALHOST, port))       # not RTP
            for _ in range(3):
                peer.sendto(b"\x80\xc8", (LOCALHOST, port + 1))       # not RTCP
        deadline = pair.b.next_deadline()
        pair.clock.now = deadline
        pair.b.on_timer(deadline)
        assert pair.b.stats(1)["malformed"] == before + 8
        pair.run(0.2)  # and nothing is left over for later ticks
        assert pair.b.stats(1)["malformed"] == before + 8
    finally:
        pair.close()


def test_a_call_stopped_and_started_again_on_the_same_ports_has_audio():
    pair = Pair()
    try:
        pair.connect()
        pair.run(0.5)
        pair.event(0, "DROPCALL")
        pair.event(1, "DROPCALL")
        pair.run(0.2)
        pair.connect()  # the same local ports: sockets bound and polled anew
        pair.run(1.0)
        b = pair.b.stats(1)
        assert b["packets_received"] >= 40 and b["packets_lost"] == 0, b
        assert dominant(bytes(pair.devices[1].played[-8000:]), CANDIDATES)[0] == 1000
    finally:
        pair.close()
    assert len(pair.phones[0].named("RTP_START")) == 2


def test_the_card_clock_thread_on_a_running_loop():
    # own_task: the media path keeps its own time (a thread on CPython). Audio
    # flows both ways, a digit received is reported on the loop's thread, and
    # closing ends the clock.
    import asyncio
    import threading
    import time

    clocks_before = [t for t in threading.enumerate() if t.name == "media-clock"]

    async def call():
        loop_thread = threading.get_ident()
        phones, medias = [], []
        ports = [free_pair(), free_pair()]
        while ports[1] == ports[0]:
            ports[1] = free_pair()
        for index, capture in enumerate(("tone:1000", "tone:600")):
            phone = FakePhone(time.monotonic)
            threads = []
            phone.on_event = lambda event, p=phone, t=threads: (
                p.events.append(event), t.append(threading.get_ident()))
            phone.threads = threads
            device = SimAudio(capture, "memory", clock=time.monotonic)
            media = Media(phone, device, 8000, 20)
            phone.media = media
            phone.by_number[1] = FakeCall(1, ports[index], negotiated(ports[1 - index]))
            phones.append(phone)
            medias.append(media)
        for media in medias:
            media.call_event(CallEvent("CONNECTED", 1), time.monotonic())
        running = [t for t in threading.enumerate() if t.name == "media-clock"]
        await asyncio.sleep(0.3)
        assert medias[0].send_dtmf(1, "7", 60)
        await asyncio.sleep(0.7)
        stats = medias[1].stats(1)
        for media in medias:
            media.close()
        await asyncio.sleep(0.1)
        return loop_thread, phones, stats, running

    loop_thread, phones, stats, running = asyncio.run(call())
    assert stats["packets_received"] >= 35 and stats["ticks"] >= 40, stats
    assert phones[1].named("DTMF") == ["DTMF call=1 digit=7"]
    assert set(phones[1].threads) == {loop_thread}  # every event on the loop's thread
    assert not phones[0].named("AUDIO_ERROR") and not phones[1].named("AUDIO_ERROR")
    assert len(running) == len(clocks_before) + 2
    time.sleep(0.1)
    assert not [t for t in running if t.is_alive() and t not in clocks_before]
