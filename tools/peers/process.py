"""Programs, processes, ports and logs for the real peers.

Rule: a program that is not installed raises PeerMissing naming the Debian
package `make setup` installs it from; every process group started here is
ended by its owner or, at the latest, when the interpreter exits.
"""

import atexit
import os
import shutil
import signal
import socket
import subprocess
import time


TOOLS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CFG_TEMPLATE = os.path.join(TOOLS_DIR, "kamailio", "kamailio.cfg.tmpl")
SIPP_SCENARIOS = os.path.join(TOOLS_DIR, "sipp")
LOCALHOST = "127.0.0.1"

# program -> Debian package that `make setup` installs it from
PACKAGES = {"kamailio": "kamailio", "kamcmd": "kamailio", "sipp": "sip-tester",
            "tshark": "tshark"}
# Kamailio modules outside the main package -> their Debian package
MODULE_PACKAGES = {"tls.so": "kamailio-tls-modules", "outbound.so": "kamailio-outbound-modules"}


class PeerMissing(RuntimeError):
    """A program or module a real peer needs is not installed."""


class PeerError(RuntimeError):
    """A peer did not start, did not answer, or failed; the message carries its log."""


def require_program(name):
    """Full path of an installed program, or PeerMissing saying how to install it."""
    path = shutil.which(name) or next(
        (os.path.join(d, name) for d in ("/usr/sbin", "/sbin", "/usr/local/sbin")
         if os.access(os.path.join(d, name), os.X_OK)), None)
    if path is None:
        raise PeerMissing("%s is not installed: run `make setup` (installs the Debian package %s)"
                          % (name, PACKAGES.get(name, name)))
    return path


_LIVE = {}   # pid -> Popen of every process group started here and not yet reaped


def spawn(cmd, cwd, stdout_path, stderr_path=None):
    out = open(stdout_path, "ab")
    err = open(stderr_path, "ab") if stderr_path else subprocess.STDOUT
    try:
        proc = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                start_new_session=True)
    finally:
        out.close()
        if stderr_path:
            err.close()
    _LIVE[proc.pid] = proc
    return proc


def _signal_group(proc, sig):
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def end_process(proc, sig=signal.SIGTERM, grace=5.0):
    """Signal the process group, wait up to grace seconds, then SIGKILL it; return the code."""
    if proc is None:
        return None
    if proc.poll() is None:
        _signal_group(proc, sig)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            proc.wait(5)
    # children of a dead leader may linger (kamailio's workers): sweep the group
    _signal_group(proc, signal.SIGKILL)
    _LIVE.pop(proc.pid, None)
    return proc.returncode


@atexit.register
def _end_all():
    for proc in list(_LIVE.values()):
        end_process(proc, signal.SIGKILL, 1.0)


def free_port(kind="tcp"):
    """A port on 127.0.0.1 that is free right now for kind 'tcp' or 'udp'."""
    stype = socket.SOCK_STREAM if kind == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, stype) as s:
        s.bind((LOCALHOST, 0))
        return s.getsockname()[1]


def free_port_pair(gap=2):
    """A UDP port p with p+gap free too (sipp's media uses p and p+2; a phone's RTP
    and RTCP use p and p+1)."""
    for _ in range(50):
        port = free_port("udp")
        if port + gap < 65536 and _udp_free(port + gap):
            return port
    raise PeerError("no free UDP port pair on 127.0.0.1")


def _udp_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.bind((LOCALHOST, port))
        except OSError:
            return False
    return True


def bound_ports(kind):
    """Ports bound on 127.0.0.1 (or any address): listening TCP ports, or UDP ports."""
    ports = set()
    with open("/proc/net/%s" % kind) as f:
        next(f)
        for line in f:
            fields = line.split()
            addr, port = fields[1].split(":")
            if addr not in ("0100007F", "00000000"):
                continue
            if kind == "tcp" and fields[3] != "0A":     # 0A = LISTEN
                continue
            ports.add(int(port, 16))
    return ports


def wait_until(predicate, timeout, what, proc=None, log_path=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc is not None and proc.poll() is not None:
            raise PeerError("%s: process exited with %s\n%s"
                            % (what, proc.returncode, log_tail(log_path)))
        time.sleep(0.02)
    raise PeerError("%s: not ready after %.0f s\n%s" % (what, timeout, log_tail(log_path)))


def log_tail(path, lines=40):
    if not path or not os.path.exists(path):
        return ""
    with open(path, errors="replace") as f:
        return "".join(f.readlines()[-lines:])
