"""Jitter buffer behaviour on a virtual clock: order, loss, lateness, adaptation, drift.

Payloads are raw PCM (the decoder is the identity) and every frame k is 160
samples of the value 1000 + k, so what is played out tells which frame it
was; concealment (a fade) and silence are not constant frames of that kind.
"""

from array import array

from firmware.core.jitter import JitterBuffer
from firmware.core.rtp import RtpPacket

FRAME = 0.02


def _identity(payload):
    return payload


def _pcm(value, samples=160):
    return bytes(array("h", [value] * samples))


class _Random:
    """A small deterministic generator (the same numbers on every interpreter)."""

    def __init__(self, seed):
        self.state = seed

    def uniform(self):
        self.state = (self.state * 1103515245 + 12345) & 0x7FFFFFFF
        return self.state / 2147483647.0


class _Lazy:
    """A packet whose payload is made when it is delivered (keeps the heap small)."""

    __slots__ = ("sequence", "timestamp", "ssrc", "value", "samples")

    def __init__(self, sequence, timestamp, ssrc, value, samples):
        self.sequence = sequence
        self.timestamp = timestamp
        self.ssrc = ssrc
        self.value = value
        self.samples = samples

    def packet(self):
        return RtpPacket(0, self.sequence, self.timestamp, self.ssrc,
                         _pcm(self.value, self.samples))


def _stream(count, seq0=1000, ts0=5000, ssrc=0x1234, start=0.0, period=FRAME, jitter=0.0,
            seed=7, value=None, skip=(), drop=(), late=None, samples=160):
    """(arrival time, packet, audio?) for frames 0..count-1 sent every ``period``."""
    rand = _Random(seed)
    out = []
    for k in range(count):
        if k in drop:
            continue
        arrival = start + k * period + rand.uniform() * jitter
        if late and k in late:
            arrival += late[k]
        packet = _Lazy((seq0 + k) & 0xFFFF, (ts0 + samples * k) & 0xFFFFFFFF, ssrc,
                       1000 + k if value is None else value(k), samples)
        out.append((arrival, packet, k not in skip))
    return out


def _play_until_last(buffer, arrivals, last=1399):
    """Deliver ``arrivals`` on time and play 20 ms ticks until the frame whose
    first sample is ``last`` comes out; return every frame played."""
    frames = []
    i = 0
    tick = 0
    while not frames or frames[-1][0] != last:
        now = tick * FRAME + 0.003
        while i < len(arrivals) and arrivals[i][0] <= now:
            _deliver(buffer, arrivals[i])
            i += 1
        frames.append(array("h", buffer.get(now)))
        tick += 1
    return frames


def _deliver(buffer, item):
    arrival, packet, audio = item
    if isinstance(packet, _Lazy):
        packet = packet.packet()
    if audio:
        buffer.put(packet, arrival)
    else:
        buffer.skip(packet, arrival)


def _run(buffer, arrivals, until=None, offset=0.003, last_id=None):
    """Tick every 20 ms; returns the frame ids played (None: not a whole frame)."""
    arrivals = sorted(arrivals, key=lambda item: item[0])
    if until is None:
        until = arrivals[-1][0] + 0.5
    played = []
    i = 0
    tick = 0
    while True:
        now = tick * FRAME + offset
        if now > until:
            break
        while i < len(arrivals) and arrivals[i][0] <= now:
            _deliver(buffer, arrivals[i])
            i += 1
        frame = buffer.get(now)
        assert len(frame) == 320
        samples = array("h", frame)
        first = samples[0]
        played.append(first - 1000 if first >= 1000 and min(samples) == max(samples) else None)
        if last_id is not None and played[-1] == last_id:
            break
        tick += 1
    return played


def _ids(played):
    return [k for k in played if k is not None]


def _increasing(ids):
    for i in range(1, len(ids)):
        if ids[i] <= ids[i - 1]:
            return False
    return True


def test_silence_before_the_first_packet():
    buffer = JitterBuffer(_identity)
    assert buffer.get(0.0) == bytes(320)
    assert buffer.stats.received == 0 and buffer.stats.concealed == 0


def test_clean_stream_plays_every_frame_in_order():
    buffer = JitterBuffer(_identity, initial_delay=0.02)
    played = _run(buffer, _stream(500), last_id=499)
    ids = _ids(played)
    assert ids == list(range(500))
    stats = buffer.stats
    assert (stats.lost, stats.late, stats.concealed, stats.duplicates) == (0, 0, 0, 0)
    assert stats.played == 500 and stats.received == 500
    assert stats.target_ms == 20.0
    assert 0 <= stats.delay_ms <= 40


def test_startup_waits_for_the_initial_delay():
    buffer = JitterBuffer(_identity, initial_delay=0.1)
    played = _run(buffer, _stream(100), last_id=99)
    first = 0
    while played[first] is None:
        first += 1
    # The first packet arrived at 0.0; it is played once 100 ms of delay is reached.
    assert 4 <= first <= 6
    assert played[first] == 0


def test_reordered_packets_are_played_in_order():
    arrivals = _stream(400)
    for i in range(0, len(arrivals) - 1, 2):
        # Every odd packet overtakes the even one before it by 5 ms.
        a, b = arrivals[i], arrivals[i + 1]
        arrivals[i] = (b[0], a[1], a[2])
        arrivals[i + 1] = (b[0] - 0.005, b[1], b[2])
    buffer = JitterBuffer(_identity)
    ids = _ids(_run(buffer, arrivals, last_id=399))
    assert _increasing(ids) and ids[-1] == 399
    assert len(ids) == 400 - buffer.stats.dropped
    assert buffer.stats.lost == 0 and buffer.stats.concealed == 0


def test_duplicates_are_dropped():
    arrivals = _stream(300)
    arrivals += [(t + 0.004, p, a) for t, p, a in arrivals]
    buffer = JitterBuffer(_identity)
    ids = _ids(_run(buffer, arrivals, last_id=299))
    assert _increasing(ids)
    assert buffer.stats.duplicates == 300
    assert buffer.stats.received == 600
    assert buffer.stats.played == 300 - buffer.stats.dropped
    assert buffer.stats.lost == 0


def test_lost_packets_are_concealed_with_a_fade_then_silence():
    buffer = JitterBuffer(_identity, fade_frames=2)
    arrivals = sorted(_stream(400, drop=(100, 200, 201, 202)), key=lambda item: item[0])
    frames = _play_until_last(buffer, arrivals)
    stats = buffer.stats
    assert stats.lost == 4
    assert stats.late == 0
    starts = [f[0] for f in frames]
    at99 = starts.index(1099)
    concealed = frames[at99 + 1]
    # The repeat of frame 99 starts at full level and fades.
    assert concealed[0] == 1099 and concealed[159] < 1099 and concealed[159] > 0
    assert frames[at99 + 2][0] == 1101
    at199 = starts.index(1199)
    first, second, third = frames[at199 + 1], frames[at199 + 2], frames[at199 + 3]
    assert first[0] == 1199 and second[0] < first[159] and second[159] < 20
    assert not any(third)  # after two frames of fade: silence
    assert frames[at199 + 4][0] == 1203
    assert stats.concealed == 4


def test_a_late_packet_is_late_not_lost():
    buffer = JitterBuffer(_identity)
    ids = _ids(_run(buffer, _stream(400, late={150: 0.3}), last_id=399))
    assert 150 not in ids and 149 in ids and 151 in ids
    stats = buffer.stats
    assert stats.late == 1
    assert stats.lost == 0
    assert stats.concealed == 1


def test_target_delay_follows_the_jitter():
    steady = JitterBuffer(_identity)
    _run(steady, _stream(1500))
    assert steady.stats.target_ms == 20.0
    jittery = JitterBuffer(_identity)
    _run(jittery, _stream(1500, jitter=0.06))
    stats = jittery.stats
    assert 60 < stats.target_ms <= 100, stats.target_ms
    # Once adapted, hardly anything comes too late.
    assert stats.late <= 15, stats
    assert stats.played >= 1480


def test_target_delay_is_bounded():
    buffer = JitterBuffer(_identity, max_delay=0.2)
    _run(buffer, _stream(1000, jitter=0.6))
    assert buffer.stats.target_ms == 200.0
    assert buffer.stats.delay_ms < 260
    low = JitterBuffer(_identity, min_delay=0.05, initial_delay=0.02)
    _run(low, _stream(500))
    assert low.stats.target_ms == 50.0


def test_fast_sender_clock_drops_frames_to_hold_the_delay():
    # The sender's clock runs 0.5 % fast: 3000 frames arrive in 2985 ticks.
    buffer = JitterBuffer(_identity)
    ids = _ids(_run(buffer, _stream(3000, period=FRAME * 0.995), last_id=2999))
    stats = buffer.stats
    assert _increasing(ids)
    assert 10 <= stats.dropped <= 25, stats
    assert stats.delay_ms < stats.target_ms + 2 * 20
    assert stats.lost == 0 and stats.late == 0


def test_slow_sender_clock_inserts_frames():
    buffer = JitterBuffer(_identity, initial_delay=0.02)
    ids = _ids(_run(buffer, _stream(3000, period=FRAME * 1.005), last_id=2999))
    stats = buffer.stats
    assert 10 <= stats.inserted <= 25, stats
    assert stats.late == 0 and stats.lost == 0
    assert stats.delay_ms > 0
    for i in range(1, len(ids)):
        # A repeat is an inserted frame; nothing is skipped.
        assert ids[i] == ids[i - 1] or ids[i] == ids[i - 1] + 1


def test_drift_is_taken_up_in_silence_first():
    # Talkspurts of 0.6 s (loud) and pauses of 0.4 s (quiet samples).
    def value(k):
        return 1000 + k if k % 50 < 30 else k % 200 + 1

    buffer = JitterBuffer(_identity)
    arrivals = _stream(2500, period=FRAME * 0.99, value=value)
    played = []
    frames = {}
    arrivals.sort(key=lambda item: item[0])
    i = 0
    for tick in range(2500):
        now = tick * FRAME + 0.003
        while i < len(arrivals) and arrivals[i][0] <= now:
            _deliver(buffer, arrivals[i])
            i += 1
        samples = array("h", buffer.get(now))
        played.append(samples[0])
    for k in range(2500):
        frames[value(k)] = k
    seen = set(played)
    skipped = [k for k in range(2400) if value(k) not in seen]
    assert len(skipped) >= 15, skipped
    assert all(k % 50 >= 30 for k in skipped), skipped  # only quiet frames were dropped


def test_a_playout_stall_is_recovered_at_once():
    buffer = JitterBuffer(_identity)
    arrivals = sorted(_stream(400), key=lambda item: item[0])
    i = 0
    played = []
    for tick in range(400):
        now = tick * FRAME + 0.003
        while i < len(arrivals) and arrivals[i][0] <= now:
            _deliver(buffer, arrivals[i])
            i += 1
        if 100 <= tick < 150:
            continue  # the sound card stopped asking for a second
        first = array("h", buffer.get(now))[0]
        played.append((tick, first - 1000))
    after = [k for tick, k in played if tick == 152][0]
    assert 145 <= after <= 152  # back near real time two ticks after the stall
    assert buffer.stats.delay_ms <= buffer.stats.target_ms + 20
    assert buffer.stats.dropped >= 45
    assert buffer.stats.lost == 0


def test_new_ssrc_restarts_the_buffer():
    first = _stream(200, ssrc=1)
    second = _stream(200, ssrc=2, seq0=40000, ts0=123456789, start=4.0)
    for item in second:
        item[1].value += 2000
    buffer = JitterBuffer(_identity)
    played = _run(buffer, first + second)
    assert buffer.stats.resyncs == 1
    assert buffer.stats.lost == 0
    ids = _ids(played)
    new = [k - 2000 for k in ids if k >= 2000]
    assert _increasing(new) and new[-1] == 199 and len(new) >= 195


def test_timestamp_jump_restarts_the_buffer():
    arrivals = _stream(300)
    jumped = []
    for t, p, a in arrivals:
        if p.sequence >= 1150:
            p.timestamp = (p.timestamp + 8000 * 30) & 0xFFFFFFFF
        jumped.append((t, p, a))
    buffer = JitterBuffer(_identity)
    ids = _ids(_run(buffer, jumped, last_id=299))
    assert buffer.stats.resyncs == 1
    assert ids[-1] == 299 and _increasing(ids)
    assert buffer.stats.lost == 0


def test_sequence_and_timestamp_wrap_around():
    buffer = JitterBuffer(_identity)
    ids = _ids(_run(buffer, _stream(600, seq0=65400, ts0=(1 << 32) - 160 * 300), last_id=599))
    assert _increasing(ids) and ids[-1] == 599
    stats = buffer.stats
    assert (stats.lost, stats.late, stats.resyncs, stats.concealed) == (0, 0, 0, 0)
    assert len(ids) == 600 - stats.dropped


def test_packets_without_audio_are_not_losses():
    # Frames 100..139 are replaced by packets without audio (a DTMF digit).
    buffer = JitterBuffer(_identity)
    played = _run(buffer, _stream(300, skip=range(100, 140)), last_id=299)
    stats = buffer.stats
    assert stats.lost == 0
    assert stats.concealed == 0
    ids = _ids(played)
    assert 99 in ids and 140 in ids
    assert not [k for k in ids if 100 <= k < 140]


def test_short_and_long_packets_make_whole_frames():
    # 10 ms packets: every output frame is two of them, sample-exact.
    buffer = JitterBuffer(_identity, initial_delay=0.04)
    arrivals = _stream(400, period=0.01, samples=80)
    arrivals.sort(key=lambda item: item[0])
    i = 0
    frames = []
    for tick in range(190):
        now = tick * FRAME + 0.003
        while i < len(arrivals) and arrivals[i][0] <= now:
            _deliver(buffer, arrivals[i])
            i += 1
        samples = array("h", buffer.get(now))
        if samples[0] >= 1000:
            frames.append((samples[0] - 1000, samples[80] - 1000, min(samples[:80]),
                           max(samples[80:])))
    assert len(frames) > 150
    for a, b, low, high in frames:
        assert b == a + 1 and a % 2 == 0 and low == a + 1000 and high == b + 1000
    assert buffer.stats.concealed == 0
    # 40 ms packets: each is played over two ticks.
    buffer = JitterBuffer(_identity)
    played = _run(buffer, _stream(100, period=0.04, samples=320), last_id=99)
    ids = _ids(played)
    assert ids.count(50) == 2 and ids.count(51) == 2
    assert buffer.stats.lost == 0


def test_reset_forgets_the_stream_but_keeps_the_counts():
    buffer = JitterBuffer(_identity)
    _run(buffer, _stream(100))
    received = buffer.stats.received
    buffer.reset()
    assert buffer.get(100.0) == bytes(320)
    assert buffer.stats.received == received


# --- the per-packet and per-tick fast paths ---------------------------------------------


def _played(buffer, arrivals, ticks, use_fields):
    """Frames and counters at every tick, delivering with put()/skip() or the
    *_fields forms; arrivals are (time, sequence, timestamp, ssrc, value or None)."""
    arrivals = sorted(arrivals, key=lambda item: item[0])
    out = []
    i = 0
    for tick in range(ticks):
        now = tick * FRAME + 0.003
        while i < len(arrivals) and arrivals[i][0] <= now:
            arrival, seq, ts, ssrc, value = arrivals[i]
            if value is None:
                if use_fields:
                    buffer.skip_fields(seq, ts, ssrc, arrival)
                else:
                    buffer.skip(RtpPacket(101, seq, ts, ssrc, b""), arrival)
            elif use_fields:
                buffer.put_fields(seq, ts, ssrc, _pcm(value), arrival)
            else:
                buffer.put(RtpPacket(0, seq, ts, ssrc, _pcm(value)), arrival)
            i += 1
        out.append(buffer.get(now))
        out.append(sorted(buffer.stats.as_dict().items()))
    return out


def _awkward_stream():
    """In-order packets mixed with everything that must leave the shortcut:
    wrap of both counters, a next number with the same or an older timestamp,
    reordering, a duplicate, a skipped (DTMF) packet, a timestamp jump and a
    new SSRC."""
    out = []
    seq, ts, ssrc, t = 65530, 0xFFFFFFFF - 160 * 3, 7, 0.0
    for k in range(160):
        t += FRAME
        if k == 20:
            out.append((t + 0.001, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc, 3000))  # same ts
            seq += 1
        if k == 30:
            out.append((t + 0.001, seq & 0xFFFF, (ts - 320) & 0xFFFFFFFF, ssrc, 3001))  # older
            seq += 1
        if k == 40:
            t -= 0.03  # this one overtakes the two before it
        if 60 <= k < 64:
            out.append((t, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc, None))  # a digit
        elif k == 80:
            ts += 8000 * 5  # the source's clock jumps
            out.append((t, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc, 1000 + k))
        elif k == 120:
            ssrc, seq, ts = 8, 200, 123456
            out.append((t, seq, ts, ssrc, 1000 + k))
        else:
            out.append((t, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc, 1000 + k))
        if k == 50:
            out.append((t + 0.002, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc, 1000 + k))  # duplicate
        seq += 1
        ts += 160
    return out


def test_field_form_plays_exactly_what_the_packet_form_plays():
    arrivals = _awkward_stream()
    by_packet = _played(JitterBuffer(_identity), arrivals, 220, False)
    by_fields = _played(JitterBuffer(_identity), arrivals, 220, True)
    assert by_packet == by_fields


def test_awkward_stream_is_counted_right():
    buffer = JitterBuffer(_identity)
    _played(buffer, _awkward_stream(), 220, True)
    stats = buffer.stats
    assert stats.resyncs == 2  # the jump and the new SSRC
    # the repeated packet, and the two whose timestamps were already buffered
    assert stats.duplicates == 3
    assert stats.lost == 0 and stats.late == 0
    assert stats.received == 163 - 4  # every audio packet handed in, the digit's not


def test_next_number_with_an_old_timestamp_is_late_not_played():
    buffer = JitterBuffer(_identity, initial_delay=0.02)
    arrivals = [(k * FRAME, 100 + k, 160 * k, 5, 1000 + k) for k in range(60)]
    # number 160, right after the last, but its audio belongs long before
    arrivals.append((59 * FRAME + 0.001, 160, 160 * 10, 5, 4242))
    frames = _played(buffer, arrivals, 80, True)
    values = [array("h", f)[0] for f in frames[0::2]]
    assert 4242 not in values
    assert buffer.stats.late == 1 and buffer.stats.resyncs == 0


def test_counters_in_milliseconds_are_made_when_read():
    buffer = JitterBuffer(_identity, initial_delay=0.06)
    stats = buffer.stats
    assert stats.target_ms == 60.0 and stats.delay_ms == 0.0
    _run(buffer, _stream(100))
    as_dict = stats.as_dict()
    assert sorted(as_dict) == sorted(["received", "played", "lost", "late", "duplicates",
                                      "concealed", "dropped", "inserted", "resyncs",
                                      "overflows", "delay_ms", "target_ms"])
    assert as_dict["target_ms"] == stats.target_ms == 20.0
    assert as_dict["delay_ms"] == round(stats.delay * 1000.0 / 8000, 2)


def test_a_stalled_run_comes_in_order_late_not_lost():
    # The network holds packets 150..164 and lets them go together with 165,
    # in order: each is the next number when it comes; the first ones are
    # past their playout time (late), none of them is lost.
    late = dict((k, (165 - k) * FRAME + k * 1e-6) for k in range(150, 165))
    buffer = JitterBuffer(_identity, initial_delay=0.02, max_delay=0.06)
    ids = _ids(_run(buffer, _stream(300, late=late), last_id=299))
    stats = buffer.stats
    assert stats.late >= 5 and stats.lost == 0
    assert 149 in ids and 165 in ids and _increasing(ids)


def test_a_repeat_under_a_new_number_is_still_audio():
    # Numbers 1100..1103 carry a digit. 256 numbers later, in the same slots
    # of the buffer's memory of numbers, 1356 repeats the audio of 1355 (a
    # duplicate by timestamp) and 1357 carries no audio. The two frames
    # missing before 1358 were not all sent as "no audio": they are
    # concealed, not played as a pause of the sender.
    arrivals = _stream(400, skip=list(range(100, 104)) + [357])
    repeat = arrivals[355]
    arrivals[356] = (arrivals[356][0], _Lazy(1356, repeat[1].timestamp, 0x1234, 4242, 160),
                     True)
    buffer = JitterBuffer(_identity, initial_delay=0.02)
    _run(buffer, arrivals, last_id=399)
    stats = buffer.stats
    assert stats.duplicates == 1 and stats.lost == 0
    assert stats.concealed == 2


def test_fade_starts_at_full_level_after_a_long_clean_run():
    buffer = JitterBuffer(_identity, initial_delay=0.02)
    arrivals = sorted(_stream(400, drop=(120, 330)), key=lambda item: item[0])
    frames = _play_until_last(buffer, arrivals)
    starts = [f[0] for f in frames]
    for lost in (120, 330):
        before = starts.index(1000 + lost - 1)
        concealed = frames[before + 1]
        assert concealed[0] == 1000 + lost - 1, (lost, concealed[0])  # the repeat, full level
        assert 0 < concealed[159] < concealed[0]
        assert frames[before + 2][0] == 1000 + lost + 1
    assert buffer.stats.concealed == 2 and buffer.stats.lost == 2


def test_exact_target_from_two_delayed_packets():
    # Two packets in different half-second blocks come 10 ms late; with four
    # or more blocks the single worst block is ignored, so the target is the
    # other one's excess plus a frame: 30 ms.
    buffer = JitterBuffer(_identity, initial_delay=0.02)
    _run(buffer, _stream(200, late={60: 0.010, 90: 0.010}), last_id=199)
    assert buffer.stats.target_ms == 30.0


def test_target_comes_down_once_the_jitter_is_over():
    # 3 s of heavy jitter, then a steady stream: the peak is kept over the last
    # sixteen half-second blocks, so 8 s later the target is back at a frame.
    jittery = _stream(150, jitter=0.06)
    steady = _stream(600, seq0=1150, ts0=5000 + 160 * 150, start=3.0)
    buffer = JitterBuffer(_identity)
    _run(buffer, jittery + steady)
    assert buffer.stats.target_ms == 20.0
    assert buffer.stats.resyncs == 0
