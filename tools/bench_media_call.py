"""Benchmark: CPU per second of a two-way G.711 call through the media runtime, and baresip's.

Rule: measures and prints, never asserts on time. Every phone calls sipp
directly over UDP on 127.0.0.1 (no proxy, no registration) and sipp echoes
its RTP (``-rtp_echo``), so 50 packets a second go each way and the phone
does the whole path both ways: capture, encode, packetise, send, receive,
jitter buffer, decode, play. The figure is the phone process's CPU time
during N seconds of call, minus what the same process spent per second while
idle, as a percentage of one core.

- ``firmware``: ``runtime.phone.Phone`` with ``runtime.media.Media`` in this
  process (``time.process_time``), on a sound card that costs nothing (the
  real clock paces it, capture hands out one prepared period, playback is
  counted), which is what an ALSA device is to Python: a C call. It runs
  with 20 ms card periods (the default: one wake-up per packet) and with
  40 ms periods (``audio.period_ms: 40`` in the board file: two 20 ms
  packets each way per wake-up, 50 packets a second as before). Another
  line runs the simulated card of boards/sim.json (``tone:1000``), whose
  own per-sample Python adds to the figure.
- ``floor``: what the structure alone costs, with no media work: a Python
  thread that wakes every 20 ms and makes the system calls of a period (poll
  the RTP socket, read the echo, send one prepared packet, poll again) to
  the same sipp echo. The gap between it and ``firmware`` at 20 ms is the
  media work; the floor itself is what any design that wakes once a packet
  pays on this machine.
- ``baresip``: the Debian baresip (1.0 on Debian 12), headless: no UI, audio
  through its ``aubridge`` module (a 20 ms thread that hands what the player
  got to the source: a null device with a clock), dialled through
  ``ctrl_tcp``; its CPU from ``/proc/PID/stat`` (utime + stime, 10 ms ticks,
  hence the longer window) and, finer, the threads' ``schedstat``. Its
  audio-file folder is an empty one: baresip 1.0 plays ringback.wav on the
  call's aubridge device, and tearing that player down at the answer stops
  the bridge thread, leaving the call without audio.

Run: python tools/bench_media_call.py [--seconds N]
"""

import asyncio
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from firmware.app.config import parse_config  # noqa: E402
from firmware.hal.api import AudioDevice  # noqa: E402
from firmware.hal.sim.audio import SimAudio  # noqa: E402
from firmware.runtime.media import Media  # noqa: E402
from firmware.runtime.phone import Phone  # noqa: E402
from tools.peers import LOCALHOST, PeerMissing, Sipp, free_port  # noqa: E402

DEFAULT_SECONDS = 10
IDLE_S = 2.0
SETTLE_S = 1.0
BARESIP_MIN_S = 20.0      # /proc/PID/stat counts 10 ms ticks: a longer window
BARESIP_MODULES = "/usr/lib/baresip/modules"


class BenchCard(AudioDevice):
    """A sound card on the real clock that costs next to nothing: a read when
    no period is complete yet is one clock reading and a comparison."""

    def __init__(self, clock):
        self.clock = clock
        self.rate = 0
        self.period_frames = 0
        self.underruns = 0
        self.overruns = 0
        self.played = 0
        self._frame = b""
        self._start = 0.0
        self._read = 0
        self._next = 0.0

    def open(self, rate, period_frames):
        self.rate = rate
        self.period_frames = period_frames
        # 1 kHz at 8 kHz: eight samples repeat, so any period is whole cycles
        cycle = b"\x00\x00\x8a\x16\x00\x20\x8a\x16\x00\x00\x76\xe9\x00\xe0\x76\xe9"
        self._frame = (cycle * (period_frames // 8 + 1))[:2 * period_frames]
        self._start = self.clock()
        self._read = 0
        self._next = self._start + self._period_s(1)

    def _period_s(self, periods):
        """When ``periods`` periods are complete, in seconds from the start."""
        return (periods - 1e-9) * self.period_frames / self.rate

    def read_frame(self):
        now = self.clock()
        if now < self._next:
            return None
        ready = int((now - self._start) * self.rate / self.period_frames + 1e-9)
        if ready <= self._read:
            return None
        if ready - self._read > 4:
            self.overruns += 1
            self._read = ready - 4
        self._read += 1
        self._next = self._start + self._period_s(self._read + 1)
        return self._frame

    def write_frame(self, pcm):
        self.played += 1

    def close(self):
        pass


def _rtp_port():
    for _ in range(50):
        port = free_port("udp")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind((LOCALHOST, port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no free UDP port pair")


async def _wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError("%s did not happen within %g s" % (what, timeout))
        await asyncio.sleep(0.01)


async def _phone_call(sipp, seconds, card, period_ms):
    doc = {"account": {"user": "bench", "domain": LOCALHOST},
           "outbound_proxy": {"address": LOCALHOST, "port": sipp.port, "transport": "udp"},
           "listen": {"address": LOCALHOST, "udp_port": free_port("udp"), "tls_port": 0},
           "media": {"rtp_port": _rtp_port(), "codecs": ["PCMU"]}}
    events = []
    phone = Phone(parse_config(doc), on_event=events.append)
    phone.ua.config.register = False      # sipp answers calls, not REGISTERs
    if card == "bench":
        device = BenchCard(phone.clock)
    else:
        device = SimAudio("tone:1000", "null", clock=phone.clock)
    media = Media(phone, device, period_ms=period_ms)
    phone.media = media
    runner = asyncio.ensure_future(phone.run())

    def seen(name):
        return any(e.name == name for e in events)

    try:
        await _wait_for(lambda: phone.started or runner.done(), 5, "phone start")
        cpu = time.process_time()
        await asyncio.sleep(IDLE_S)
        idle = (time.process_time() - cpu) / IDLE_S
        number = phone.calls.make_call("sip:sipp@%s:%d" % (LOCALHOST, sipp.port),
                                       now=phone.clock())
        phone.poke()
        await _wait_for(lambda: seen("RTP_START") or seen("TASKFAIL"), 5, "call set-up")
        if not seen("RTP_START"):
            raise RuntimeError("the call failed: %s" % [str(e) for e in events])
        await asyncio.sleep(SETTLE_S)
        cpu = time.process_time()
        wall = time.monotonic()
        await asyncio.sleep(seconds)
        cpu = time.process_time() - cpu
        wall = time.monotonic() - wall
        stats = media.stats(number)
        phone.calls.drop_call(number, now=phone.clock())
        phone.poke()
        await _wait_for(lambda: seen("DROPCALL"), 5, "hang-up")
        phone.calls.release_call(number, now=phone.clock())
    finally:
        phone.stop()
        await runner
    return {"cpu": cpu, "wall": wall, "idle": idle, "stats": stats}


def measure_firmware(workdir, seconds, card, period_ms=20):
    with Sipp.uas(os.path.join(workdir, "sipp-%s-%d" % (card, period_ms)), rtp_echo=True,
                  timeout_s=int(seconds) + 60) as sipp:
        result = asyncio.run(_phone_call(sipp, seconds, card, period_ms))
    result["percent"] = 100.0 * (result["cpu"] - result["idle"] * result["wall"]) \
        / result["wall"]
    return result


def _floor_thread(sock, target, period_s, stop, counts):
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    packet = b"\x80\x00" + bytes(10) + b"\xff" * 160
    clock = time.monotonic
    due = clock() + period_s
    while not stop.is_set():
        delay = due - clock()
        if delay > 0:
            time.sleep(delay)
        for _ in poller.poll(0):
            try:
                sock.recv(2048)
                counts[1] += 1
            except OSError:
                pass
        sock.sendto(packet, target)
        counts[0] += 1
        poller.poll(0)
        due += period_s


def measure_floor(workdir, seconds):
    """The per-period system calls and wake-up of the media path, nothing else."""
    with Sipp.uas(os.path.join(workdir, "sipp-floor"), rtp_echo=True,
                  timeout_s=int(seconds) + 60) as sipp:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((LOCALHOST, 0))
            sock.setblocking(False)
            cpu, wall = time.process_time(), time.monotonic()
            time.sleep(IDLE_S)
            idle = (time.process_time() - cpu) / (time.monotonic() - wall)
            stop = threading.Event()
            counts = [0, 0]
            worker = threading.Thread(target=_floor_thread, daemon=True,
                                      args=(sock, (LOCALHOST, sipp.media_port), 0.02, stop,
                                            counts))
            worker.start()
            time.sleep(SETTLE_S)
            cpu, wall, sent, echoed = time.process_time(), time.monotonic(), counts[0], counts[1]
            time.sleep(seconds)
            cpu, wall = time.process_time() - cpu, time.monotonic() - wall
            sent, echoed = counts[0] - sent, counts[1] - echoed
            stop.set()
            worker.join(1)
        finally:
            sock.close()
    return {"percent": 100.0 * (cpu - idle * wall) / wall, "wall": wall, "sent": sent,
            "echoed": echoed}


# --- baresip ------------------------------------------------------------------------

def _cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])     # utime + stime


def _cpu_ns(pid):
    """Time on CPU of every thread of ``pid`` (schedstat), or None."""
    total = 0
    try:
        for task in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/schedstat" % (pid, task)) as f:
                total += int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return total


def _ctrl_command(port, command, params):
    payload = ('{"command":"%s","params":"%s","token":"1"}' % (command, params)).encode()
    with socket.create_connection((LOCALHOST, port), timeout=5) as conn:
        conn.sendall(b"%d:%s," % (len(payload), payload))
        conn.settimeout(5)
        try:
            return conn.recv(4096)
        except socket.timeout:
            return b""


def _wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError("%s did not happen within %g s" % (what, timeout))
        time.sleep(0.05)


def _log_text(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "replace")


def measure_baresip(workdir, seconds):
    binary = shutil.which("baresip")
    if binary is None:
        raise PeerMissing("baresip is not installed: apt-get install -y baresip")
    seconds = max(seconds, BARESIP_MIN_S)
    home = os.path.join(workdir, "baresip")
    sounds = os.path.join(home, "no-sounds")
    os.makedirs(sounds)
    sip_port = free_port("udp")
    ctrl_port = free_port("tcp")
    with open(os.path.join(home, "config"), "w") as f:
        f.write("poll_method epoll\n"
                "sip_listen %s:%d\n"
                "audio_player aubridge,bench\n"
                "audio_source aubridge,bench\n"
                "audio_alert aubridge,alert\n"
                "module_path %s\n"
                "module g711.so\n"
                "module aubridge.so\n"
                "module_app account.so\n"
                "module_app menu.so\n"
                "module_app ctrl_tcp.so\n"
                "ctrl_tcp_listen %s:%d\n" % (LOCALHOST, sip_port, BARESIP_MODULES,
                                             LOCALHOST, ctrl_port))
    with open(os.path.join(home, "accounts"), "w") as f:
        f.write("<sip:bench@%s>;regint=0;audio_codecs=PCMU\n" % LOCALHOST)
    log_path = os.path.join(home, "baresip.log")
    with Sipp.uas(os.path.join(workdir, "sipp-baresip"), rtp_echo=True,
                  timeout_s=int(seconds) + 60) as sipp:
        log = open(log_path, "wb")
        proc = subprocess.Popen([binary, "-f", home, "-n", LOCALHOST, "-p", sounds],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        log.close()
        try:
            _wait(lambda: "baresip is ready" in _log_text(log_path) or proc.poll() is not None,
                  10, "baresip start")
            if proc.poll() is not None:
                raise RuntimeError("baresip exited:\n" + _log_text(log_path)[-2000:])
            ticks, ns, wall = _cpu_ticks(proc.pid), _cpu_ns(proc.pid), time.monotonic()
            time.sleep(IDLE_S)
            idle_ticks = (_cpu_ticks(proc.pid) - ticks) / (time.monotonic() - wall)
            idle_ns = None if ns is None else (_cpu_ns(proc.pid) - ns) / (time.monotonic() - wall)
            _ctrl_command(ctrl_port, "dial", "sip:sipp@%s:%d" % (LOCALHOST, sipp.port))
            _wait(lambda: "Call established" in _log_text(log_path), 5, "baresip call set-up")
            time.sleep(SETTLE_S)
            ticks, ns, wall = _cpu_ticks(proc.pid), _cpu_ns(proc.pid), time.monotonic()
            threads = len(os.listdir("/proc/%d/task" % proc.pid))
            time.sleep(seconds)
            ticks = _cpu_ticks(proc.pid) - ticks
            ns = None if ns is None else _cpu_ns(proc.pid) - ns
            wall = time.monotonic() - wall
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
    hz = os.sysconf("SC_CLK_TCK")
    text = _log_text(log_path)
    bitrate = text[text.rfind("audio="):].split()[0] if "audio=" in text else "audio=?"
    return {"wall": wall, "threads": threads, "bitrate": bitrate,
            "percent": 100.0 * (ticks / hz - idle_ticks / hz * wall) / wall,
            "percent_ns": None if ns is None else
            100.0 * (ns - idle_ns * wall) / 1e9 / wall}


def _firmware_line(label, result):
    stats = result["stats"]
    buffer = stats["buffer"]
    per_period = result["percent"] / 100.0 / 50 * 1e6
    return ("media call [%s]: %.2f %% of one core per call-second (%.0f s of call, "
            "%.0f us per 20 ms period; idle phone %.3f %%); RTP sent %d, received %d, lost %d, "
            "late %d, concealed %d"
            % (label, result["percent"], result["wall"], per_period, 100.0 * result["idle"],
               stats["packets_sent"], stats["packets_received"], stats["packets_lost"],
               buffer["late"], buffer["concealed"]))


def main(argv=()):
    import argparse

    parser = argparse.ArgumentParser(prog="bench_media_call",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS,
                        help="seconds of call measured per phone (default %(default)s)")
    args = parser.parse_args(list(argv))
    workdir = tempfile.mkdtemp(prefix="bench-media-call-")
    python = "CPython %d.%d" % sys.version_info[:2]
    figures = []
    try:
        for period_ms in (20, 40):
            result = measure_firmware(workdir, args.seconds, "bench", period_ms)
            label = "firmware runtime, %s, cost-free card, %d ms periods" % (python, period_ms)
            print(_firmware_line(label, result), flush=True)
            figures.append(("firmware, %d ms periods" % period_ms, result["percent"]))
        result = measure_firmware(workdir, args.seconds, "sim")
        print(_firmware_line("firmware runtime, %s, simulated card tone:1000, 20 ms periods"
                             % python, result), flush=True)
        result = measure_floor(workdir, args.seconds)
        print("media call [floor, %s]: %.2f %% of one core per call-second (%.0f s; a thread "
              "waking every 20 ms to poll, read the echo, send one packet: no media work; "
              "%d sent, %d echoed)" % (python, result["percent"], result["wall"], result["sent"],
                                       result["echoed"]), flush=True)
        figures.append(("floor, 20 ms", result["percent"]))
        try:
            result = measure_baresip(workdir, args.seconds)
        except (PeerMissing, RuntimeError, OSError) as error:
            print("media call [baresip]: not measured: %s" % error, flush=True)
        else:
            finer = "" if result["percent_ns"] is None else \
                " (%.2f %% by schedstat)" % result["percent_ns"]
            print("media call [baresip 1.0, aubridge]: %.2f %% of one core per call-second%s "
                  "(%.0f s of call, %d threads, last status %s)"
                  % (result["percent"], finer, result["wall"], result["threads"],
                     result["bitrate"]), flush=True)
            reference = result["percent_ns"] or result["percent"]
            if reference > 0:
                print("media call ratios to baresip (below 1.00 uses less): %s" % "; ".join(
                    "%s %.2f" % (label, value / reference) for label, value in figures),
                    flush=True)
    finally:
        shutil.rmtree(workdir, True)


if __name__ == "__main__":
    main(sys.argv[1:])
