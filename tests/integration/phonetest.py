"""Helpers for the outbound-proxy integration tests: certificates, Kamailio, phones.

Rule: everything runs on 127.0.0.1 with ports chosen free at run time. A phone
is either the real runtime in this process (``PhoneThread``: the asyncio
``firmware.runtime.phone.Phone`` on a loop in its own thread, so a test can
drive it while it waits on Kamailio, sipp and tshark) or ``tools/phonesim`` as
a subprocess (``PhoneSim``, which proves the tool too). Both record every
event with the monotonic time it arrived, and waiting for an event consumes
it, as in tools/scenario.py. Every Kamailio started through ``KamailioPool``
is killed when the test ends (SIGKILL: the graceful stop of the harness waits
out a 5 s grace period here, and nothing is learned from it).

    with KamailioPool(tmp_path, certs) as pool:
        kam = pool.start(fix_contacts=False, no_connect=False)
        phone = PhoneThread(phone_config(certs, kam)).start()
        phone.wait_event("REGISTERED", 5)
"""

import asyncio
import json
import math
import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from firmware.app.config import parse_config
from firmware.core.framing import StreamFramer
from firmware.runtime.phone import Phone
from tools import peers
from tools.peers import Kamailio, Sipp, free_port, make_certs

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PHONESIM = os.path.join(ROOT, "tools", "phonesim")
SCENARIOS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scenarios")
DOMAIN = "example.test"
PROXY_HOSTNAME = "proxy.test"
USERS = {"alice": "secret", "bob": "secret"}
LOCALHOST = "127.0.0.1"


# --- certificates ------------------------------------------------------------------

@pytest.fixture(scope="session")
def certs(tmp_path_factory):
    """The test PKI with the proxy certificate for proxy.test (and 127.0.0.1)."""
    return make_certs(tmp_path_factory.mktemp("certs"), hostname=PROXY_HOSTNAME)


@pytest.fixture(scope="session")
def localhost_certs(tmp_path_factory):
    """The test PKI with the proxy certificate for the name "localhost", which
    the resolver knows without DNS: the phone really looks the name up."""
    return make_certs(tmp_path_factory.mktemp("certs-localhost"), hostname="localhost")


# --- Kamailio --------------------------------------------------------------------

class KamailioPool:
    """Start Kamailio instances for one test and kill them all at the end."""

    def __init__(self, workdir, certs):
        self.workdir = os.fspath(workdir)
        self.certs = certs
        self.started = []

    def start(self, name="kam", **options):
        options.setdefault("users", USERS)
        options.setdefault("domain", DOMAIN)
        options.setdefault("hostname", PROXY_HOSTNAME)
        kam = Kamailio(os.path.join(self.workdir, name), self.certs, **options)
        self.started.append(kam)
        return kam.start()

    def close(self):
        for kam in self.started:
            kam.kill()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def signal_kamailio(kam, sig):
    """SIGSTOP / SIGCONT every process of a running Kamailio."""
    os.killpg(kam.pid, sig)


# --- phone configuration -----------------------------------------------------------

def phone_config(certs, kam, address=LOCALHOST, hostname=PROXY_HOSTNAME, persistence="user",
                 user="alice", **sections):
    """A configuration document for a phone registering ``user`` through ``kam``.
    ``sections`` override or add fields per section: keepalive={"interval_s": 5}."""
    doc = {
        "account": {"user": user, "password": USERS[user], "domain": DOMAIN},
        "outbound_proxy": {"address": address, "hostname": hostname, "port": kam.tls_port,
                           "transport": "tls", "persistence": persistence},
        "tls": {"ca_file": certs.ca},
        "listen": {"address": LOCALHOST, "udp_port": free_port("udp"),
                   "tls_port": free_port("tcp"), "tls_cert_file": certs.pem("phone"),
                   "tls_key_file": certs.key("phone")},
        "media": {"rtp_port": free_port("udp")},
    }
    for section, values in sections.items():
        doc.setdefault(section, {}).update(values)
    return doc


def write_config(path, doc):
    with open(path, "w") as f:
        json.dump(doc, f, indent=2)
    return os.fspath(path)


# --- the phone in this process -----------------------------------------------------

class Recorded:
    """One event as the test saw it."""

    __slots__ = ("time", "name", "details", "call")

    def __init__(self, time_, name, details, call=None):
        self.time = time_
        self.name = name
        self.details = details
        self.call = call

    def field(self, key):
        """``value`` of ``key=value`` in the details (quotes removed), or None."""
        found = re.search(r'(?:^| )%s=("[^"]*"|\S+)' % re.escape(key), self.details)
        return found.group(1).strip('"') if found else None

    def __repr__(self):
        return "<%.3f %s %s>" % (self.time, self.name, self.details)


class EventWaiter:
    """Events in arrival order; ``wait_event`` consumes the first unconsumed match."""

    def __init__(self):
        self.events = []
        self._taken = set()
        self._cond = threading.Condition()

    def record(self, name, details, call=None):
        with self._cond:
            self.events.append(Recorded(time.monotonic(), name, details, call))
            self._cond.notify_all()

    def find(self, name, match=None):
        return [e for e in list(self.events)
                if e.name == name and (match is None or match(e))]

    def wait_event(self, name, timeout=10.0, match=None):
        """The next unconsumed ``name`` event (for which ``match(event)`` holds);
        AssertionError with the event log when none comes within ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for index, event in enumerate(self.events):
                    if index in self._taken or event.name != name:
                        continue
                    if match is None or match(event):
                        self._taken.add(index)
                        return event
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("%s did not happen within %g s; events:\n%s"
                                         % (name, timeout, self.describe()))
                self._cond.wait(min(left, 0.1))

    def names(self):
        return [e.name for e in self.events]

    def describe(self):
        if not self.events:
            return "(none)"
        start = self.events[0].time
        return "\n".join("%8.3f %s %s" % (e.time - start, e.name, e.details)
                         for e in self.events)


class PhoneThread(EventWaiter):
    """The real runtime (``Phone``) on an asyncio loop in a thread of its own."""

    def __init__(self, doc, keylog_file=None, log_sip=False):
        EventWaiter.__init__(self)
        self.config = parse_config(doc)
        self.keylog_file = keylog_file
        self.sip_log = [] if log_sip else None
        self.phone = None
        self.loop = None
        self._thread = None
        self._ready = threading.Event()
        self._error = None

    def start(self, timeout=10.0):
        self._thread = threading.Thread(target=self._main, name="phone", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise AssertionError("the phone did not start within %g s" % timeout)
        if self._error is not None:
            raise self._error
        return self

    def _main(self):
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._run())
        except BaseException as error:  # noqa: BLE001 - reported to the test thread
            self._error = error
            self._ready.set()
        finally:
            # Let cancelled readers and connects finish before the loop goes away.
            pending = asyncio.all_tasks(self.loop)
            for task in pending:
                task.cancel()
            self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self.loop.close()

    async def _run(self):
        on_sip = self._on_sip if self.sip_log is not None else None
        self.phone = Phone(self.config, on_event=self._on_event, on_sip=on_sip,
                           keylog_file=self.keylog_file)
        runner = asyncio.ensure_future(self.phone.run())
        while not self.phone.started and not runner.done():
            await asyncio.sleep(0.001)
        self._ready.set()
        await runner

    def _on_event(self, event):
        self.record(event.name, event.details, event.call)

    def _on_sip(self, direction, peer, data):
        self.sip_log.append((time.monotonic(), direction, peer, data))

    def do(self, function, *args, **kwargs):
        """Run ``function(*args, **kwargs)`` on the phone's loop and return its result
        (``now`` is passed as the phone's clock), then let the loop act on it."""
        async def call():
            result = function(*args, now=self.phone.clock(), **kwargs)
            self.phone.poke()
            return result
        return asyncio.run_coroutine_threadsafe(call(), self.loop).result(5)

    def make_call(self, uri):
        return self.do(self.phone.calls.make_call, uri)

    def answer(self, number):
        return self.do(self.phone.calls.answer_call, number)

    def hang_up(self, number):
        """drop_call, then release_call once DROPCALL came."""
        self.do(self.phone.calls.drop_call, number)
        self.wait_event("DROPCALL", 5, lambda e: e.call == number)
        self.do(self.phone.calls.release_call, number)
        self.wait_event("RELEASECALL", 5, lambda e: e.call == number)

    @property
    def stats(self):
        return dict(self.phone.stats)

    def stop(self, timeout=10.0):
        if self.loop is not None and self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.phone.stop)
            self._thread.join(timeout)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


# --- tools/phonesim as a subprocess -------------------------------------------------

_EVENT_LINE = re.compile(r"^(\d+\.\d{3}) ([A-Z_]+)(?: (.*))?$")


def run_phonesim(workdir, doc, script, *args, timeout=60):
    """``tools/phonesim`` with one phone on the simulated board, run to its end:
    (exit status, output, events). Each event is a Recorded whose time is the one
    phonesim printed (seconds since it started); ``args`` add options such as
    ``--mic tone:600``."""
    workdir = os.fspath(workdir)
    config = write_config(os.path.join(workdir, "phone.json"), doc)
    script_path = os.path.join(workdir, "script.txt")
    with open(script_path, "w") as f:
        f.write(script)
    done = subprocess.run(
        [sys.executable, PHONESIM, "--config", config, "--script", script_path,
         "--board", os.path.join(ROOT, "boards", "sim.json")] + [str(a) for a in args],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    events = []
    for line in done.stdout.splitlines():
        found = _EVENT_LINE.match(line)
        if found:
            events.append(Recorded(float(found.group(1)), found.group(2), found.group(3) or ""))
    return done.returncode, done.stdout + done.stderr, events


def sipp_call_script(seconds):
    """A phonesim script: register, call sipp (remote.test), talk ``seconds``, hang up."""
    return ("wait REGISTERED 5\ncall sip:sipp@remote.test\nwait CONNECTED 5\nsleep %g\n"
            "hangup\nwait RELEASECALL 5\nquit\n" % seconds)


def named(events, name):
    """The events called ``name``, in order."""
    return [e for e in events if e.name == name]


def goertzel(values, hz, rate=8000):
    """Power of one frequency in ``values`` (Goertzel), per sample."""
    coeff = 2.0 * math.cos(2.0 * math.pi * hz / rate)
    s1 = s2 = 0.0
    for x in values:
        s1, s2 = x + coeff * s1 - s2, s1
    return (s1 * s1 + s2 * s2 - coeff * s1 * s2) / max(len(values), 1)


class PhoneSim(EventWaiter):
    """``tools/phonesim --config --script`` as a subprocess; its event lines are
    recorded as they are printed."""

    def __init__(self, workdir, doc, script, log_sip=False, env=None):
        EventWaiter.__init__(self)
        self.workdir = os.fspath(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.config_path = write_config(os.path.join(self.workdir, "phone.json"), doc)
        if os.path.exists(script):
            self.script_path = script
        else:
            self.script_path = os.path.join(self.workdir, "script.txt")
            with open(self.script_path, "w") as f:
                f.write(script)
        self.log_sip = log_sip
        self.env = dict(os.environ, **(env or {}))
        self.lines = []
        self.proc = None
        self._reader = None

    def start(self):
        cmd = [sys.executable, PHONESIM, "--config", self.config_path, "--script",
               self.script_path, "--board", os.path.join(ROOT, "boards", "sim.json")]
        if self.log_sip:
            cmd.append("--log-sip")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, env=self.env,
                                     start_new_session=True)
        self._reader = threading.Thread(target=self._read, name="phonesim", daemon=True)
        self._reader.start()
        return self

    def _read(self):
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            self.lines.append(line)
            found = _EVENT_LINE.match(line)
            if found:
                self.record(found.group(2), found.group(3) or "")

    def wait(self, timeout=60.0):
        """phonesim's exit status (0: every expectation of the script held)."""
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("phonesim still running after %g s\n%s"
                                 % (timeout, self.output())) from None
        self._reader.join(5)
        return code

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)

    def output(self):
        return "\n".join(self.lines)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.kill()


# --- sipp -------------------------------------------------------------------------

def call_phone(workdir, kam, user="alice", hold_ms=300):
    """sipp calls user@example.test through Kamailio's UDP side, holds, hangs up."""
    return Sipp.call(workdir, "%s:%d" % (LOCALHOST, kam.udp_port), user, DOMAIN,
                     hold_ms=hold_ms, timeout_s=20).start()


# --- packet capture ------------------------------------------------------------------

class Capture(peers.LoopbackCapture):
    """tshark on the loopback with a capture filter; read back with display filters."""

    def __init__(self, workdir, bpf, name="capture", interface="lo"):
        peers.LoopbackCapture.__init__(self, workdir, bpf, name, interface)

    def fields(self, display_filter, *fields, options=()):
        """One tuple of ``fields`` per packet matching ``display_filter`` (the
        start-up probes excluded)."""
        probe = "!(udp.port == %d)" % self.probe_port
        wanted = "(%s) && %s" % (display_filter, probe) if display_filter else probe
        args = list(options) + ["-Y", wanted, "-T", "fields"]
        for field in fields or ("frame.number",):
            args += ["-e", field]
        return [tuple(line.split("\t")) for line in self.read(args).splitlines()
                if line.strip()]


def decrypted_sip(pcap_path, keylog_path, tls_port):
    """The SIP messages of every TLS connection to ``tls_port`` in the capture,
    decrypted with the key log and framed by the firmware's own stream framer:
    a list of (connection number, sent_by_client, message) in stream order per
    direction. The client is the side that spoke first."""
    tshark = peers.require_program("tshark")
    common = ["-r", pcap_path, "-o", "tls.keylog_file:%s" % keylog_path,
              "-d", "tcp.port==%d,tls" % tls_port]
    done = subprocess.run([tshark] + common + ["-Y", "tcp.port==%d" % tls_port, "-T", "fields",
                                               "-e", "tcp.stream"],
                          capture_output=True, text=True, check=True)
    streams = sorted(set(int(x) for x in done.stdout.split()))
    found = []
    for number, stream in enumerate(streams):
        done = subprocess.run([tshark] + common + ["-q", "-z", "follow,tls,raw,%d" % stream],
                              capture_output=True, text=True, check=True)
        sides = {False: bytearray(), True: bytearray()}
        first = None
        for line in done.stdout.splitlines():
            text = line.strip()
            if not text or not re.match(r"^[0-9a-f]+$", text):
                continue
            indented = line.startswith("\t")
            if first is None:
                first = indented
            sides[indented] += bytes.fromhex(text)
        for indented, data in sides.items():
            framer = StreamFramer()
            framer.feed(bytes(data))
            while True:
                event = framer.next_event()
                if event is None:
                    break
                if hasattr(event, "headers"):
                    found.append((number, indented == first, event))
    return found
