"""Adaptive jitter buffer for one incoming audio stream, with loss concealment.

Rule: ``put(packet, now)`` hands in every audio packet as it arrives and
``get(now)`` is called once per playout tick; it always returns exactly one
frame of little-endian int16 PCM, assembled sample-exact from the buffered
packets at the playout position (extended RTP timestamps, so wrap-around is
invisible here). Whatever is missing is concealed: the last real frame is
repeated with a linear fade to silence over ``fade_frames`` frames, then
silence; a gap the sender left on purpose (every sequence number in it
belongs to a packet without audio, or none is missing) is plain silence.

The delay is adapted only by whole frames, never by time-stretching. The
relative delay of each packet (arrival time minus media time) is measured
against the fastest packet of the last few seconds; the target is the peak
of that excess over the last eight seconds (ignoring the single worst half
second, so one stray packet costs a late frame rather than seconds of extra
delay) plus one frame, bounded by ``min_delay`` and ``max_delay``. The
delay at playout is how long the fastest packets wait in the buffer. More
than a frame above target, the buffer drops a frame; more than half a frame
below, it repeats one: at once where the audio is quiet, otherwise once the
condition has lasted ``shrink_after``/``grow_after`` ticks. That is also
what absorbs clock drift between the sender and the sound card. A delay far
beyond ``max_delay`` (playout stalled, a burst after an outage) is cut back
to the target in one step. A new SSRC,
or a timestamp that jumps by more than ``jump`` seconds against the arrival
clock, restarts the buffer.

Sequence numbers decide what counts as lost: a sequence number never
received by the time playout passes it. Packets that arrive after their
playout time are late (not lost), repeats are duplicates; ``skip(packet)``
tells the buffer about packets of the stream that carry no audio
(telephone-event, comfort noise) so their numbers are not counted as lost.
``put_fields``/``skip_fields`` take the packet's fields instead of a packet.

Per packet and per tick the usual case is short: the next number of the same
source, later in time, a packet neither the fastest nor the slowest of its
half second, a tick whose frame is exactly the next packet. Each short path
gives what the general one gives; the delay figures of finished blocks are
worked out once per block, the millisecond counters when they are read.
"""

from array import array

_BLOCK_PACKETS = 25  # delay statistics are kept per block of packets (0.5 s at 20 ms)
_BASE_BLOCKS = 8  # the fastest packet is looked for over this many blocks
_PEAK_BLOCKS = 16  # the peak excess delay over this many
_ROBUST_BLOCKS = 4  # with this many blocks the worst one is ignored
_WARMUP_PACKETS = 50  # until then the target is at least initial_delay
_SEEN_SLOTS = 256  # recent sequence numbers kept for duplicate and loss checks
_MAX_ENTRIES = 64  # a packet beyond that many buffered pushes out the oldest
_CATCH_UP_FRAMES = 4  # this far past max_delay the excess is dropped at once
_QUIET = 256  # |sample| below this everywhere in a frame counts as quiet


class JitterStats:
    """Counters of one jitter buffer (frames unless said otherwise)."""

    __slots__ = ("received", "played", "lost", "late", "duplicates", "concealed", "dropped",
                 "inserted", "resyncs", "overflows", "delay", "target", "rate")

    NAMES = ("received", "played", "lost", "late", "duplicates", "concealed", "dropped",
             "inserted", "resyncs", "overflows", "delay_ms", "target_ms")

    def __init__(self, rate=8000):
        self.received = 0  # audio packets handed to put()
        self.played = 0  # frames that carried received audio
        self.lost = 0  # sequence numbers passed by playout and never received
        self.late = 0  # packets that came after their playout time
        self.duplicates = 0
        self.concealed = 0  # frames (partly) made up for missing audio
        self.dropped = 0  # frames skipped to shrink the delay
        self.inserted = 0  # frames added to grow the delay
        self.resyncs = 0  # restarts on a new SSRC or a timestamp jump
        self.overflows = 0  # packets pushed out of a full buffer
        # In timestamp units as the buffer works with them; the figures in
        # milliseconds are made when read, not at every packet and tick.
        self.delay = 0.0
        self.target = 0.0
        self.rate = rate

    @property
    def delay_ms(self):
        """Buffering delay of the fastest packets at the last tick."""
        return round(self.delay * 1000.0 / self.rate, 2)

    @property
    def target_ms(self):
        return round(self.target * 1000.0 / self.rate, 2)

    def as_dict(self):
        return {name: getattr(self, name) for name in self.NAMES}

    def __repr__(self):
        return "JitterStats(%r)" % (self.as_dict(),)


class JitterBuffer:
    """Reorders, times and conceals one audio stream; see the module rule."""

    __slots__ = ("decode", "frame", "rate", "min_delay", "max_delay", "initial_delay",
                 "fade", "jump", "shrink_after", "grow_after", "stats", "_silence",
                 "_entries", "_ssrc", "_ts_raw", "_ts_ext", "_seq_raw", "_seq_ext", "_seen",
                 "_no_audio", "_skip_seq", "_play", "_started", "_last_seq", "_first_seq",
                 "_last_audio", "_last_output", "_conceal_pos", "_took_real",
                 "_took_concealed", "_blocks", "_blocks_base", "_blocks_top", "_blocks_second",
                 "_cur_min", "_cur_excess", "_block_count", "_base", "_peak", "_packets",
                 "_target", "_high", "_low", "_catch_up_at", "_above", "_below")

    def __init__(self, decode, samples_per_frame=160, clock_rate=8000, min_delay=0.02,
                 max_delay=0.2, initial_delay=0.06, fade_frames=2, jump=1.0,
                 shrink_after=50, grow_after=10):
        self.decode = decode
        self.frame = samples_per_frame
        self.rate = clock_rate
        self.min_delay = min_delay * clock_rate
        self.max_delay = max_delay * clock_rate
        self.initial_delay = initial_delay * clock_rate
        self.fade = fade_frames * samples_per_frame
        self.jump = jump * clock_rate
        self.shrink_after = shrink_after
        self.grow_after = grow_after
        self._catch_up_at = self.max_delay + _CATCH_UP_FRAMES * samples_per_frame
        self.stats = JitterStats(clock_rate)
        self._silence = bytes(2 * samples_per_frame)
        self._last_audio = self._silence
        self._last_output = self._silence
        self._ssrc = None
        self._restart()

    def _restart(self):
        # (extended timestamp, pcm, extended sequence, samples) by time: rarely
        # more than two or three, so a sorted list is the cheapest container
        self._entries = []
        self._ts_raw = self._ts_ext = self._seq_raw = self._seq_ext = None
        self._seen = [-1] * _SEEN_SLOTS
        self._no_audio = bytearray(_SEEN_SLOTS)  # 1 where the number was a skip()ped packet
        self._skip_seq = -1  # the newest skip()ped number
        self._play = None  # extended timestamp of the next sample to play
        self._started = False
        self._last_seq = None  # extended sequence of the last packet played out
        self._first_seq = None
        self._conceal_pos = self.fade  # start of a loss before any audio: silence
        self._took_real = False
        self._took_concealed = False
        self._blocks = []  # (fastest relative delay, peak excess) per finished block
        # What the finished blocks say, worked out once per block rather than
        # at every packet: the fastest delay of the last _BASE_BLOCKS and the
        # two highest peaks (0.0 standing for none).
        self._blocks_base = None
        self._blocks_top = 0.0
        self._blocks_second = 0.0
        self._cur_min = None
        self._cur_excess = 0.0
        self._block_count = 0
        self._base = None
        self._peak = 0.0
        self._packets = 0
        self._set_target(max(self.initial_delay, self.min_delay))
        self._above = 0
        self._below = 0

    def _set_target(self, target):
        self._target = target
        self.stats.target = target
        # the delays that count as a frame above and half a frame below it
        self._high = target + self.frame
        self._low = target - self.frame / 2

    def reset(self):
        """Forget the stream (a new call leg); counters are kept."""
        self._ssrc = None
        self._restart()

    # --- input -------------------------------------------------------------

    def _extend(self, timestamp, sequence):
        """Extended (unwrapped) timestamp and sequence number of a packet."""
        if self._ts_raw is None:
            self._ts_raw = timestamp
            self._ts_ext = timestamp
            self._seq_raw = sequence
            self._seq_ext = sequence + 0x10000  # room below for reordering
        ts_delta = ((timestamp - self._ts_raw + 0x80000000) & 0xFFFFFFFF) - 0x80000000
        seq_delta = ((sequence - self._seq_raw + 0x8000) & 0xFFFF) - 0x8000
        ts = self._ts_ext + ts_delta
        seq = self._seq_ext + seq_delta
        if ts_delta > 0:
            self._ts_raw = timestamp
            self._ts_ext = ts
        if seq_delta > 0:
            self._seq_raw = sequence
            self._seq_ext = seq
        return ts, seq

    def _resync(self):
        self.stats.resyncs += 1
        self._restart()

    def _note_sequence(self, sequence, timestamp, ssrc, now, audio):
        """Common entry checks; the extended (timestamp, sequence, relative
        delay) or None to drop."""
        if ssrc != self._ssrc:
            if self._ssrc is not None:
                self._resync()
            self._ssrc = ssrc
        ts, seq = self._extend(timestamp, sequence)
        rel = now * self.rate - ts
        base = self._base
        if base is not None and (rel - base > self.jump or base - rel > self.jump):
            self._resync()
            ts, seq = self._extend(timestamp, sequence)
            rel = now * self.rate - ts
        slot = seq % _SEEN_SLOTS
        if self._seen[slot] == seq:
            self.stats.duplicates += 1
            return None
        self._seen[slot] = seq
        if audio:
            self._no_audio[slot] = 0
        else:
            self._no_audio[slot] = 1
            if seq > self._skip_seq:
                self._skip_seq = seq
        if self._last_seq is not None and self._first_seq < seq < self._last_seq:
            # Playout already passed this number and counted it as lost.
            self.stats.lost -= 1
        return ts, seq, rel

    def skip(self, packet, now):
        """A packet of this stream without audio: only its number is recorded."""
        self._note_sequence(packet.sequence, packet.timestamp, packet.ssrc, now, False)

    def skip_fields(self, sequence, timestamp, ssrc, now):
        """``skip`` with the packet's fields as arguments."""
        self._note_sequence(sequence, timestamp, ssrc, now, False)

    def put(self, packet, now):
        """Hand in one audio packet (``sequence``, ``timestamp``, ``ssrc``, ``payload``)."""
        self.put_fields(packet.sequence, packet.timestamp, packet.ssrc, packet.payload, now)

    def put_fields(self, sequence, timestamp, ssrc, payload, now):
        """``put`` with the packet's fields as arguments (no packet object needed)."""
        self.stats.received += 1
        ts = None
        seq_raw = self._seq_raw
        if ssrc == self._ssrc and seq_raw is not None and sequence == (seq_raw + 1) & 0xFFFF:
            # The usual packet: the next number of the same source, later in
            # time. It is new (higher than any number seen since the restart),
            # so the checks for duplicates and recovered losses cannot apply.
            ts_delta = (timestamp - self._ts_raw) & 0xFFFFFFFF
            if ts_delta < 0x80000000:
                ts = self._ts_ext + ts_delta
                rel = now * self.rate - ts
                base = self._base
                if base is not None and abs(rel - base) > self.jump:
                    ts = None  # a timestamp jump: the general path restarts
                else:
                    seq = self._seq_ext + 1
                    if ts_delta:
                        self._ts_raw = timestamp
                        self._ts_ext = ts
                    self._seq_raw = sequence
                    self._seq_ext = seq
                    slot = seq % _SEEN_SLOTS
                    self._seen[slot] = seq
                    self._no_audio[slot] = 0
        if ts is None:
            noted = self._note_sequence(sequence, timestamp, ssrc, now, True)
            if noted is None:
                return
            ts, seq, rel = noted
        self._measure(rel)
        pcm = self.decode(payload)
        samples = len(pcm) // 2
        if samples == 0:
            return
        play = self._play
        if play is None:
            self._play = ts
        elif ts + samples <= play:
            if self._started:
                self.stats.late += 1
                return
            self._play = ts  # reordered ahead of the first packet, before playout began
        elif ts < play and not self._started:
            self._play = ts
        entries = self._entries
        if not entries or entries[-1][0] < ts:
            entries.append((ts, pcm, seq, samples))  # in order: the usual case
        else:
            i = len(entries)
            while i > 0 and entries[i - 1][0] > ts:
                i -= 1
            if i > 0 and entries[i - 1][0] == ts:
                self.stats.duplicates += 1  # same media under another sequence number
                return
            entries.insert(i, (ts, pcm, seq, samples))
        if len(entries) > _MAX_ENTRIES:
            self.stats.overflows += 1
            oldest = entries.pop(0)
            self._account(oldest[2])
            if self._play < entries[0][0]:
                self._play = entries[0][0]

    def _measure(self, rel):
        """Update the fastest relative delay, the peak excess and the target."""
        cur_min = self._cur_min
        if cur_min is not None and rel >= cur_min and rel - self._base <= self._cur_excess \
                and self._packets >= _WARMUP_PACKETS:
            # The usual packet: neither the fastest nor the most delayed of its
            # block, after the warm-up. Base, peak and target stay as they are.
            self._packets += 1
            self._block_count += 1
            if self._block_count >= _BLOCK_PACKETS:
                self._finish_block()
            return
        if cur_min is None or rel < cur_min:
            cur_min = self._cur_min = rel
        base = self._blocks_base
        if base is None or cur_min < base:
            base = cur_min
        self._base = base
        current = self._cur_excess
        if rel - base > current:
            current = self._cur_excess = rel - base
        # The peak over recent blocks, except the single worst one: one
        # stray packet should cost a late frame, not seconds of extra delay.
        # (The two highest of the current block's excess and the finished
        # blocks' peaks; every one of them is >= 0.)
        top = self._blocks_top
        if current >= top:
            peak, second = current, top
        elif current >= self._blocks_second:
            peak, second = top, current
        else:
            peak, second = top, self._blocks_second
        if len(self._blocks) >= _ROBUST_BLOCKS:
            peak = second
        packets = self._packets = self._packets + 1
        self._block_count += 1
        if self._block_count >= _BLOCK_PACKETS:
            self._finish_block()
        if peak == self._peak and packets > _WARMUP_PACKETS:
            return  # the same peak after the warm-up: the same target
        self._peak = peak
        target = peak + self.frame
        if packets < _WARMUP_PACKETS and target < self.initial_delay:
            target = self.initial_delay
        if target < self.min_delay:
            target = self.min_delay
        if target > self.max_delay:
            target = self.max_delay
        self._set_target(target)

    def _finish_block(self):
        blocks = self._blocks
        blocks.append((self._cur_min, self._cur_excess))
        if len(blocks) > _PEAK_BLOCKS:
            blocks.pop(0)
        self._cur_min = None
        self._cur_excess = 0.0
        self._block_count = 0
        base = None
        for block in blocks[-_BASE_BLOCKS:]:
            if base is None or block[0] < base:
                base = block[0]
        self._blocks_base = base
        top = second = 0.0
        for block in blocks:
            value = block[1]
            if value > top:
                second = top
                top = value
            elif value > second:
                second = value
        self._blocks_top = top
        self._blocks_second = second

    # --- output ------------------------------------------------------------

    def get(self, now):
        """The next frame of PCM for the playout tick at ``now``."""
        play = self._play
        if play is None:
            return self._silence
        delay = now * self.rate - self._base - play
        stats = self.stats
        stats.delay = delay
        if not self._started:
            if delay < self._low:
                return self._silence
            self._started = True
        if delay > self._catch_up_at:
            delay = self._catch_up(delay, self._target)
            play = self._play
        if delay > self._high:
            self._above += 1
        else:
            self._above = 0
        if delay < self._low:
            self._below += 1
        else:
            self._below = 0
        if self._below and (self._below >= self.grow_after or _quiet(self._last_output)):
            self._below = 0
            stats.inserted += 1
            return self._last_output
        entries = self._entries
        frame = self.frame
        if entries and entries[0][0] == play and entries[0][3] == frame:
            # The usual tick: the next packet is exactly this frame.
            first = entries.pop(0)
            self._play = play + frame
            seq = first[2]
            last = self._last_seq
            if last is not None and seq == last + 1:
                self._last_seq = seq  # nothing skipped: what _account comes to
            else:
                self._account(seq)
            self._conceal_pos = 0
            out = self._last_audio = first[1]
            real = True
            concealed = False
        else:
            out = self._take()
            real = self._took_real
            concealed = self._took_concealed
        if self._above and (self._above >= self.shrink_after or _quiet(out)):
            self._above = 0
            stats.dropped += 1
            out = self._take()
            real = self._took_real
            concealed = self._took_concealed
        if real:
            stats.played += 1
        if concealed:
            stats.concealed += 1
        self._last_output = out
        return out

    def _catch_up(self, delay, target):
        """Playout stalled or a burst arrived: shed the excess delay at once
        rather than a frame at a time."""
        frames = int((delay - target) // self.frame)
        play = self._play + frames * self.frame
        entries = self._entries
        while entries and entries[0][0] + entries[0][3] <= play:
            self._account(entries.pop(0)[2])
        self._play = play
        self.stats.dropped += frames
        return delay - frames * self.frame

    def _account(self, seq):
        """A packet leaves the buffer: count the numbers skipped before it as lost."""
        last = self._last_seq
        if last is not None and seq > last + 1:
            gap = seq - last - 1
            if gap > _SEEN_SLOTS:
                self.stats.lost += gap
            else:
                seen = self._seen
                lost = 0
                for s in range(last + 1, seq):
                    if seen[s % _SEEN_SLOTS] != s:
                        lost += 1
                self.stats.lost += lost
        if last is None:
            self._first_seq = seq
        if last is None or seq > last:
            self._last_seq = seq

    def _take(self):
        """Assemble one frame at the playout position and move past it."""
        entries = self._entries
        start = self._play
        end = start + self.frame
        self._play = end
        if entries:
            first = entries[0]
            if first[0] == start and first[3] == self.frame:
                entries.pop(0)
                self._account(first[2])
                self._took_real = True
                self._took_concealed = False
                self._conceal_pos = 0
                self._last_audio = first[1]
                return first[1]
        pieces = []
        pos = start
        concealed = False
        real = False
        while pos < end:
            while entries and entries[0][0] + entries[0][3] <= pos:
                self._account(entries.pop(0)[2])  # overlapped by what was played
            if entries and entries[0][0] <= pos:
                entry = entries[0]
                offset = pos - entry[0]
                take = entry[3] - offset
                if take > end - pos:
                    take = end - pos
                pieces.append(entry[1][2 * offset:2 * (offset + take)])
                pos += take
                real = True
                self._conceal_pos = 0
                if offset + take == entry[3]:
                    entries.pop(0)
                    self._account(entry[2])
                continue
            gap_end = end
            if entries and entries[0][0] < end:
                gap_end = entries[0][0]
            if self._paused():
                pieces.append(bytes(2 * (gap_end - pos)))  # the sender paused: silence
            else:
                pieces.append(self._conceal(gap_end - pos))
                concealed = True
            pos = gap_end
        frame = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        self._took_real = real
        self._took_concealed = concealed
        if real:
            self._last_audio = frame
        return frame

    def _paused(self):
        """Whether missing audio was never sent: every number since the last
        packet played is accounted for by packets without audio (silence
        suppression, a DTMF digit), and if nothing audio is buffered yet the
        newest packet carried none."""
        last = self._last_seq
        if last is None:
            return False
        if self._entries:
            upto = self._entries[0][2]
        elif self._skip_seq > last and self._skip_seq == self._seq_ext:
            upto = self._skip_seq + 1
        else:
            return False
        if upto - last > _SEEN_SLOTS:
            return False
        seen = self._seen
        no_audio = self._no_audio
        for s in range(last + 1, upto):
            slot = s % _SEEN_SLOTS
            if seen[slot] != s or not no_audio[slot]:
                return False
        return True

    def _conceal(self, count):
        """``count`` samples repeating the last audio with a linear fade."""
        fade = self.fade
        pos = self._conceal_pos
        self._conceal_pos = pos + count
        if pos >= fade:
            return bytes(2 * count)
        source = array("h", self._last_audio)
        period = len(source)
        out = array("h", bytes(2 * count))
        for k in range(count):
            p = pos + k
            if p >= fade:
                break
            out[k] = source[p % period] * (fade - p) // fade
        return bytes(out)


def _quiet(pcm):
    samples = array("h", pcm)
    return max(samples) < _QUIET and min(samples) > -_QUIET
