"""Benchmark of the media path: G.711 per frame and a whole two-way call.

Rule: measures and prints, never asserts on time. ``main()`` runs the
figures under CPython, then runs this same file under the project's
MicroPython (``.venv/bin/micropython``) when it is there, so both
interpreters execute identical code. The call is two MediaStreams wired
back to back in one process, 50 frames a second each way: capture frame ->
encode -> packetise -> datagram -> receive -> jitter buffer -> decode ->
play, with RTCP timers running; the figure is CPU time per second of call
as a percentage of one core (both phones' work together).

Run: python tools/bench_media.py [seconds]
"""

import sys
import time

MICROPYTHON = sys.implementation.name == "micropython"
FRAMES_PER_SECOND = 50
DEFAULT_SECONDS = 60


def _seconds_since(start):
    if MICROPYTHON:
        return time.ticks_diff(time.ticks_us(), start) / 1e6
    return time.process_time() - start


def _now():
    return time.ticks_us() if MICROPYTHON else time.process_time()


class _PseudoRandom:
    """urandom(n) stand-in: the benchmark needs no real randomness, and a
    fixed source makes runs comparable."""

    def __init__(self, seed):
        self.state = seed

    def __call__(self, n):
        self.state = (self.state * 1103515245 + 12345) & 0x7FFFFFFF
        return bytes([(self.state >> (8 * (i % 4))) & 0xFF for i in range(n)])


def _frames(region, name, count):
    from firmware.core.tones import ToneGenerator, tone

    generator = ToneGenerator(tone(region, name))
    return [generator.read(160) for _ in range(count)]


def g711_per_frame(repeats=2000):
    """Microseconds per 160-sample frame: (ulaw enc, ulaw dec, alaw enc, alaw dec)."""
    from firmware.core import g711

    pcm = _frames("na", "dial", 1)[0]
    g711.ulaw_table()
    g711.alaw_table()
    figures = []
    for encode, decode in ((g711.ulaw_encode, g711.ulaw_decode),
                           (g711.alaw_encode, g711.alaw_decode)):
        codes = encode(pcm)
        start = _now()
        for _ in range(repeats):
            encode(pcm)
        figures.append(_seconds_since(start) / repeats * 1e6)
        start = _now()
        for _ in range(repeats):
            decode(codes)
        figures.append(_seconds_since(start) / repeats * 1e6)
    return figures


def call_cpu_percent(seconds=DEFAULT_SECONDS):
    """CPU time per second of a simulated two-way call, in % of one core."""
    from firmware.core.mediastream import CHANNEL_RTP, MediaStream

    a = MediaStream("PCMU", 0, ("b", 4000), _PseudoRandom(1), dtmf_payload_type=101)
    b = MediaStream("PCMU", 0, ("a", 4000), _PseudoRandom(2), dtmf_payload_type=101)
    talk_a = _frames("uk", "dial", 50)
    talk_b = _frames("na", "dial", 50)
    ticks = seconds * FRAMES_PER_SECOND
    start = _now()
    for tick in range(ticks):
        now = tick / FRAMES_PER_SECOND
        a.send_audio(talk_a[tick % 50], now)
        b.send_audio(talk_b[tick % 50], now)
        for channel, data, _ in a.datagrams_to_send():
            if channel == CHANNEL_RTP:
                b.receive(data, ("a", 4000), now + 0.002)
            else:
                b.receive_rtcp(data, ("a", 4001), now + 0.002)
        for channel, data, _ in b.datagrams_to_send():
            if channel == CHANNEL_RTP:
                a.receive(data, ("b", 4000), now + 0.002)
            else:
                a.receive_rtcp(data, ("b", 4001), now + 0.002)
        a.get_frame(now + 0.005)
        b.get_frame(now + 0.005)
        for stream in (a, b):
            deadline = stream.next_deadline()
            if deadline is not None and deadline <= now:
                stream.on_timer(now)
    elapsed = _seconds_since(start)
    return elapsed / seconds * 100.0, a.stats(), b.stats()


def report(seconds=DEFAULT_SECONDS):
    """Print this interpreter's figures."""
    if MICROPYTHON:
        name = "MicroPython %d.%d.%d (wall time)" % sys.implementation.version[:3]
    else:
        name = "CPython %d.%d (process time)" % sys.version_info[:2]
    ue, ud, ae, ad = g711_per_frame()
    print("media [%s]: G.711 per 160-sample frame: mu-law encode %.1f us, decode %.1f us; "
          "A-law encode %.1f us, decode %.1f us" % (name, ue, ud, ae, ad))
    percent, stats_a, stats_b = call_cpu_percent(seconds)
    played = stats_a["buffer"]["played"] + stats_b["buffer"]["played"]
    concealed = stats_a["buffer"]["concealed"] + stats_b["buffer"]["concealed"]
    print("media [%s]: two-way G.711 call, %d s, 50 frames/s each way: %.2f %% of one core "
          "(%d frames played, %d concealed)" % (name, seconds, percent, played, concealed))


def _micropython_binary(root):
    import os

    path = os.path.join(root, ".venv", "bin", "micropython")
    return path if os.access(path, os.X_OK) else None


def main(argv=None):
    import os
    import subprocess

    args = argv or []
    seconds = int(args[0]) if args else DEFAULT_SECONDS
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if root not in sys.path:
        sys.path.insert(0, root)
    report(seconds)
    micropython = _micropython_binary(root)
    if micropython is None:
        print("media [MicroPython]: not measured (no .venv/bin/micropython; run make setup)")
        return 0
    script = ("import sys\nsys.path.insert(0, %r)\nsys.path.insert(0, %r)\n"
              "import bench_media\nbench_media.report(%d)\n") % (
                  root, os.path.join(root, "tools"), seconds)
    result = subprocess.run([micropython, "-X", "heapsize=8M", "-c", script], cwd=root,
                            capture_output=True, text=True, timeout=600, check=False)
    sys.stdout.write(result.stdout)
    if result.returncode != 0:
        print("media [MicroPython]: failed (exit %d): %s" % (
            result.returncode, result.stderr.strip().splitlines()[-1:] or ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
