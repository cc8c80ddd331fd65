"""Benchmarks of calls through a real outbound proxy over TLS on the loopback.

Rule: figures are printed, never asserted. Everything runs on 127.0.0.1
against the same peers as the integration tests (Kamailio with its TLS module,
sipp answering): a missing peer is reported with how to install it.

  set-up time    make_call -> CONNECTED, median of N calls, every INVITE
                 challenged (Kamailio one_time_nonce: INVITE, 407, ACK, INVITE,
                 100, 180, 200, ACK), the phone's connection already open
  handshakes     TLS handshakes per call for each persistence mode: user with
                 address and hostname (persistent), transaction, none
  recovery       Kamailio killed and restarted on the same ports: time from the
                 restarted proxy being ready to REGISTERED over a new connection
                 (reconnect.base_s 0.5, max_s 1)
  baresip        the same set-up time for baresip (Debian package), driven over
                 its ctrl_tcp module, when it is installed

    python tools/bench_call.py [--calls 20] [--no-baresip]
"""

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import wave

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

from phonetest import DOMAIN, USERS, KamailioPool, PhoneThread, phone_config  # noqa: E402
from tools.peers import PeerMissing, Sipp, TlsHandshakeCounter, free_port, make_certs  # noqa: E402

REMOTE = "sip:sipp@remote.test"
FAST_RECONNECT = {"base_s": 0.5, "max_s": 1}


def _median_ms(values):
    return statistics.median(values) * 1000.0


def _spread(values):
    ms = sorted(v * 1000.0 for v in values)
    return "median %.2f ms, min %.2f, max %.2f (n=%d)" % (statistics.median(ms), ms[0], ms[-1],
                                                         len(ms))


def _timed_call(phone):
    """Place a call; return (seconds from make_call to CONNECTED, call number)."""
    started = {}

    def dial(now):
        started["at"] = now
        return phone.phone.calls.make_call(REMOTE, now=now)
    number = phone.do(dial)
    connected = phone.wait_event("CONNECTED", 5, lambda e: e.call == number)
    return connected.time - started["at"], number


def bench_setup_time(workdir, certs, calls):
    with KamailioPool(workdir, certs) as pool, \
            Sipp.uas(os.path.join(workdir, "uas"), calls=calls + 1, hold_ms=0) as uas:
        kam = pool.start(one_time_nonce=True, fix_contacts=False, remote_port=uas.port)
        with PhoneThread(phone_config(certs, kam)) as phone:
            phone.wait_event("REGISTERED", 5)
            _, warm = _timed_call(phone)           # the first call warms caches: not counted
            phone.hang_up(warm)
            times = []
            for _ in range(calls):
                seconds, number = _timed_call(phone)
                times.append(seconds)
                phone.hang_up(number)
            handshakes = phone.stats["handshakes"]
    return times, handshakes


def _calls_in_mode(certs, kam, persistence, calls):
    doc = phone_config(certs, kam, persistence=persistence, sip={"t1_s": 0.05})
    with PhoneThread(doc) as phone:
        phone.wait_event("REGISTERED", 5)
        if phone.phone.link.mode == "transaction":
            phone.wait_event("PROXY_CLOSED", 5)    # the REGISTER's connection
        elif phone.phone.link.mode == "none":
            time.sleep(0.1)
        before = phone.stats["handshakes"]
        for _ in range(calls):
            _, number = _timed_call(phone)
            phone.hang_up(number)
            if phone.phone.link.mode == "transaction":
                # calls that do not overlap: wait out the INVITE's Timer M (64*T1)
                phone.wait_event("PROXY_CLOSED", 10)
            else:
                time.sleep(0.05)
        during = phone.stats["handshakes"] - before
        mode = phone.phone.link.mode
    return mode, during / float(calls), phone.stats["handshakes"]


def bench_handshakes(workdir, certs, calls):
    rows = []
    with KamailioPool(workdir, certs) as pool, \
            Sipp.uas(os.path.join(workdir, "uas"), calls=3 * calls, hold_ms=0) as uas:
        kam = pool.start(one_time_nonce=True, fix_contacts=False, remote_port=uas.port)
        for persistence in ("user", "transaction", "none"):
            hellos = TlsHandshakeCounter(os.path.join(workdir, "tshark-" + persistence),
                                         kam.tls_port).start()
            mode, per_call, total = _calls_in_mode(certs, kam, persistence, calls)
            rows.append((persistence, mode, per_call, total, hellos.count()))
    return rows


def bench_recovery(workdir, certs, rounds):
    figures = []
    with KamailioPool(workdir, certs) as pool:
        kam = pool.start(fix_contacts=False)
        with PhoneThread(phone_config(certs, kam, reconnect=FAST_RECONNECT)) as phone:
            phone.wait_event("REGISTERED", 5)
            for _ in range(rounds):
                killed = time.monotonic()
                kam.kill()
                down = phone.wait_event("PROXY_DOWN", 5, lambda e, t=killed: e.time >= t)
                time.sleep(0.3)
                kam.start()
                ready = time.monotonic()
                registered = phone.wait_event("REGISTERED", 10, lambda e, t=killed: e.time >= t)
                figures.append((down.time - killed, registered.time - ready))
    return figures


# --- baresip -----------------------------------------------------------------------

class Baresip:
    """baresip 1.x run headless: a config and an account in a temporary home,
    commands and events over ctrl_tcp (netstrings carrying JSON)."""

    def __init__(self, workdir, certs, kam):
        self.binary = shutil.which("baresip")
        if self.binary is None:
            raise PeerMissing("baresip is not installed (apt-get install baresip)")
        self.home = os.path.join(workdir, "baresip")
        os.makedirs(self.home, exist_ok=True)
        self.ctrl_port = free_port("tcp")
        modules = "/usr/lib/baresip/modules"
        config = [
            "poll_method epoll",
            "sip_listen 127.0.0.1:%d" % free_port("tcp"),
            "sip_cafile %s" % certs.ca,
            "sip_trans_def tls",
            "module_path %s" % modules,
            "module g711.so",
            "module aufile.so",
            "module_app account.so",
            "module_app menu.so",
            "module_app ctrl_tcp.so",
            "ctrl_tcp_listen 127.0.0.1:%d" % self.ctrl_port,
            "audio_player aufile,%s" % os.path.join(self.home, "out.wav"),
            "audio_source aufile,%s" % self._silence(),
            "audio_alert aufile,%s" % os.path.join(self.home, "alert.wav"),
            "rtp_ports %d-%d" % (41000, 41100),
            "dns_server 127.0.0.1:53",
            "net_interface 127.0.0.1",
        ]
        with open(os.path.join(self.home, "config"), "w") as f:
            f.write("\n".join(config) + "\n")
        account = ('<sip:alice@%s;transport=tls>;auth_pass=%s;'
                   'outbound="sip:127.0.0.1:%d;transport=tls";regint=600;answermode=manual'
                   % (DOMAIN, USERS["alice"], kam.tls_port))
        with open(os.path.join(self.home, "accounts"), "w") as f:
            f.write(account + "\n")
        self.log_path = os.path.join(self.home, "baresip.log")
        self.proc = None
        self.sock = None
        self.buffer = b""

    def _silence(self):
        """A second of 8 kHz silence: the microphone (ausine wants 48 kHz)."""
        path = os.path.join(self.home, "silence.wav")
        with wave.open(path, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(8000)
            w.writeframes(b"\0\0" * 8000)
        return path

    def start(self):
        log = open(self.log_path, "w")
        self.proc = subprocess.Popen([self.binary, "-f", self.home], stdin=subprocess.DEVNULL,
                                     stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        log.close()
        deadline = time.monotonic() + 10
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", self.ctrl_port), 1)
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("baresip did not start:\n" + self.log()) from None
                time.sleep(0.05)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()[-3000:]

    def command(self, name, params=""):
        body = json.dumps({"command": name, "params": params, "token": name}).encode()
        self.sock.sendall(b"%d:%s," % (len(body), body))

    def next_message(self, timeout):
        self.sock.settimeout(timeout)
        while True:
            head, colon, rest = self.buffer.partition(b":")
            if colon and head.isdigit() and len(rest) > int(head):
                size = int(head)
                body, self.buffer = rest[:size], rest[size + 1:]
                return time.monotonic(), json.loads(body)
            data = self.sock.recv(65536)
            if not data:
                raise RuntimeError("baresip closed its control connection:\n" + self.log())
            self.buffer += data

    def wait_event(self, kinds, timeout=5.0):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError("baresip: no %s within %g s:\n%s" % (kinds, timeout,
                                                                         self.log()))
            at, message = self.next_message(left)
            if message.get("event") and message.get("type") in kinds:
                return at, message

    def stop(self):
        if self.sock is not None:
            self.sock.close()
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


def bench_baresip(workdir, certs, calls):
    with KamailioPool(workdir, certs) as pool, \
            Sipp.uas(os.path.join(workdir, "uas-baresip"), calls=calls + 1, hold_ms=0) as uas:
        kam = pool.start(name="kam-baresip", one_time_nonce=True, fix_contacts=False,
                         remote_port=uas.port)
        hellos = TlsHandshakeCounter(os.path.join(workdir, "tshark-baresip"),
                                     kam.tls_port).start()
        baresip = Baresip(workdir, certs, kam).start()
        try:
            deadline = time.monotonic() + 10      # REGISTER_OK may precede our control link
            while "alice" not in kam.locations("alice") and time.monotonic() < deadline:
                time.sleep(0.05)
            times = []
            for index in range(calls + 1):
                sent = time.monotonic()
                baresip.command("dial", REMOTE)
                at, _ = baresip.wait_event(("CALL_ESTABLISHED",), 5)
                if index:
                    times.append(at - sent)        # the first call warms up: not counted
                baresip.command("hangup")
                baresip.wait_event(("CALL_CLOSED",), 5)
        finally:
            baresip.stop()
        return times, hellos.count()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="bench_call", description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=20, help="calls for the set-up time")
    parser.add_argument("--mode-calls", type=int, default=3,
                        help="calls per persistence mode for handshakes per call")
    parser.add_argument("--recoveries", type=int, default=3, help="proxy restarts")
    parser.add_argument("--no-baresip", action="store_true", help="skip baresip")
    args = parser.parse_args([] if argv is None else argv)   # tools/bench calls main()
    workdir = tempfile.mkdtemp(prefix="bench-call-")
    try:
        certs = make_certs(os.path.join(workdir, "certs"))
        print("call set-up through Kamailio over TLS on 127.0.0.1, every INVITE challenged")
        times, handshakes = bench_setup_time(os.path.join(workdir, "setup"), certs, args.calls)
        print("  deskphone  make_call -> CONNECTED: %s; %d TLS handshake(s) for %d calls"
              % (_spread(times), handshakes, args.calls + 1))
        if args.no_baresip:
            print("  baresip    skipped (--no-baresip)")
        else:
            try:
                times_b, hellos_b = bench_baresip(os.path.join(workdir, "baresip"), certs,
                                                  args.calls)
                print("  baresip    dial -> CALL_ESTABLISHED: %s; %d TLS ClientHello(s)"
                      % (_spread(times_b), hellos_b))
                print("  ratio      baresip / deskphone median: %.1f x"
                      % (_median_ms(times_b) / _median_ms(times)))
            except (PeerMissing, RuntimeError, OSError) as error:
                print("  baresip    not measured: %s" % str(error).splitlines()[0])
        print("TLS handshakes per call by persistence mode (%d calls each, T1 0.05 s)"
              % args.mode_calls)
        for persistence, mode, per_call, total, hellos in bench_handshakes(
                os.path.join(workdir, "modes"), certs, args.mode_calls):
            print("  %-11s (%-11s) %.2f per call; %d handshakes in the phone's life "
                  "(register, calls, un-register), %d ClientHellos seen"
                  % (persistence, mode, per_call, total, hellos))
        print("recovery after a proxy restart (SIGKILL, restart on the same ports; "
              "reconnect.base_s 0.5, max_s 1)")
        for down, back in bench_recovery(os.path.join(workdir, "recovery"), certs,
                                         args.recoveries):
            print("  failure noticed after %.1f ms; REGISTERED %.1f ms after the proxy "
                  "was ready" % (down * 1000.0, back * 1000.0))
    except PeerMissing as missing:
        print("bench_call: %s" % missing, file=sys.stderr)
        return 2
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
