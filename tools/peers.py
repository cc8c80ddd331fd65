"""Real peers for integration tests: Kamailio, sipp, and tshark captures (TLS, RTP).

Rule: every peer listens on 127.0.0.1 only, on ports chosen free at run time,
and every process started here is stopped by its context manager or, at the
latest, when the interpreter exits. A program that is not installed raises
PeerMissing, whose message says that `make setup` installs it; nothing is
skipped silently.

    certs = make_certs(tmp / "certs")
    with Kamailio(tmp / "kam", certs, users={"alice": "secret"}) as kam:
        ...  # TLS on 127.0.0.1:kam.tls_port, UDP on 127.0.0.1:kam.udp_port
        with Sipp.uas(tmp / "uas") as uas:
            kam.set_remote_port(uas.port)   # calls to remote.test go to sipp
"""

import atexit
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

TOOLS_DIR = os.path.dirname(os.path.abspath(__file__))
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


# --- processes -------------------------------------------------------------

_LIVE = {}   # pid -> Popen of every process group started here and not yet reaped


def _spawn(cmd, cwd, stdout_path, stderr_path=None):
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


def _end(proc, sig=signal.SIGTERM, grace=5.0):
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
        _end(proc, signal.SIGKILL, 1.0)


# --- ports -----------------------------------------------------------------

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


def _wait_until(predicate, timeout, what, proc=None, log_path=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc is not None and proc.poll() is not None:
            raise PeerError("%s: process exited with %s\n%s"
                            % (what, proc.returncode, _tail(log_path)))
        time.sleep(0.02)
    raise PeerError("%s: not ready after %.0f s\n%s" % (what, timeout, _tail(log_path)))


def _tail(path, lines=40):
    if not path or not os.path.exists(path):
        return ""
    with open(path, errors="replace") as f:
        return "".join(f.readlines()[-lines:])


# --- certificates ----------------------------------------------------------

class CertSet:
    """The files tools/certs writes, by name: certs.pem('proxy'), certs.key_der('phone')."""

    NAMES = ("ca", "other-ca", "proxy", "phone", "client", "untrusted", "wronghost", "expired")

    def __init__(self, directory):
        self.dir = os.path.abspath(os.fspath(directory))
        missing = [n for n in self.NAMES if not os.path.exists(self.pem(n))]
        if missing:
            raise PeerError("certificate directory %s lacks %s (make it with tools/certs)"
                            % (self.dir, ", ".join(missing)))

    def pem(self, name):
        return os.path.join(self.dir, name + ".crt.pem")

    def key(self, name):
        return os.path.join(self.dir, name + ".key.pem")

    def der(self, name):
        return os.path.join(self.dir, name + ".crt.der")

    def key_der(self, name):
        return os.path.join(self.dir, name + ".key.der")

    @property
    def ca(self):
        return self.pem("ca")


def make_certs(out_dir, hostname="proxy.test"):
    """Run tools/certs into out_dir and return the CertSet."""
    script = os.path.join(TOOLS_DIR, "certs")
    subprocess.run([sys.executable, script, "--out", os.fspath(out_dir), "--hostname", hostname],
                   check=True, capture_output=True)
    return CertSet(out_dir)


# --- Kamailio --------------------------------------------------------------

def kamailio_module_dir(binary):
    """Kamailio's module directory: its built-in default (`kamailio -h`), else a search."""
    out = subprocess.run([binary, "-h"], capture_output=True, text=True).stdout
    found = re.search(r"-L path.*?\(default: ([^)]+)\)", out, re.S)
    candidates = [found.group(1).strip()] if found else []
    for root in ("/usr/lib", "/usr/lib64", "/usr/local/lib", "/usr/local/lib64"):
        candidates.append(os.path.join(root, "kamailio", "modules"))
        if os.path.isdir(root):
            candidates += sorted(os.path.join(root, d, "kamailio", "modules")
                                 for d in os.listdir(root))
    for path in candidates:
        if os.path.exists(os.path.join(path, "tm.so")):
            missing = [m for m in MODULE_PACKAGES if not os.path.exists(os.path.join(path, m))]
            if missing:
                raise PeerMissing("kamailio module %s is not installed: run `make setup` "
                                  "(installs %s)" % (", ".join(missing), ", ".join(
                                      MODULE_PACKAGES[m] for m in missing)))
            return path
    raise PeerMissing("kamailio modules not found: run `make setup` (installs kamailio)")


def _cfg_string(value):
    return '"%s"' % str(value).replace("\\", "\\\\").replace('"', '\\"')


def _parse_rpc_struct(text):
    """'name: value' lines of kamcmd output -> dict (ints where they look like ints)."""
    values = {}
    for line in text.splitlines():
        name, sep, value = line.strip().partition(": ")
        if sep:
            value = value.strip()
            values[name] = int(value) if re.match(r"-?\d+$", value) else value
    return values


class Kamailio:
    """A Kamailio outbound proxy and registrar on 127.0.0.1 (TLS for phones, UDP for sipp).

    Options (all fixed at start except those set_option() changes at run time):
      users               {'alice': 'secret'}: digest users of `domain`
      challenge_invites   answer INVITEs from local users without credentials with 407
                          (run time: set_option('challenge_invites', 0/1))
      one_time_nonce      each nonce authenticates one request only (forces a 401/407
                          round trip for every REGISTER and INVITE)
      qop                 offer qop=auth in challenges
      verify_client       require and verify a client certificate (mutual TLS)
      fix_contacts        reach every TLS phone through its own connection, whatever it
                          sends (received on REGISTER, ;alias on contacts); off: only a
                          phone using RFC 5626 (;ob, reg-id) or Via ;alias is reached so
      no_connect          never open a TCP/TLS connection towards a client
      flow_timer          Flow-Timer header value in 200 to REGISTER (0: none)
      server_cert         certificate name in the CertSet the proxy presents: 'proxy', or
                          'untrusted', 'wronghost', 'expired' to test the phone's refusals
      remote_domain, remote_port   calls to this domain go to 127.0.0.1:remote_port/UDP
    """

    def __init__(self, workdir, certs, tls_port=0, udp_port=0, users=None,
                 domain="example.test", hostname="proxy.test", remote_domain="remote.test",
                 remote_port=0, challenge_invites=True, one_time_nonce=False, qop=True,
                 verify_client=False, fix_contacts=True, no_connect=True, flow_timer=0,
                 connection_lifetime=3605, server_cert="proxy", debug=2, start_timeout=15.0):
        self.binary = require_program("kamailio")
        self.kamcmd = require_program("kamcmd")
        self.workdir = os.path.abspath(os.fspath(workdir))
        os.makedirs(self.workdir, exist_ok=True)
        self.certs = certs if isinstance(certs, CertSet) else CertSet(certs)
        self.tls_port = tls_port or free_port("tcp")
        self.udp_port = udp_port or free_port("udp")
        self.users = dict(users if users is not None else {"alice": "secret", "bob": "secret"})
        self.domain = domain
        self.hostname = hostname
        self.remote_domain = remote_domain
        self.remote_port = remote_port
        self.options = {
            "challenge_invites": challenge_invites, "one_time_nonce": one_time_nonce,
            "qop": qop, "verify_client": verify_client, "fix_contacts": fix_contacts,
            "no_connect": no_connect, "flow_timer": flow_timer,
            "connection_lifetime": connection_lifetime, "server_cert": server_cert,
            "debug": debug,
        }
        self.start_timeout = start_timeout
        self.cfg_path = os.path.join(self.workdir, "kamailio.cfg")
        self.tls_cfg_path = os.path.join(self.workdir, "tls.cfg")
        self.log_path = os.path.join(self.workdir, "kamailio.log")
        self.run_dir = os.path.join(self.workdir, "run")
        # unix socket paths are limited to 107 bytes: fall back to a short directory
        self._short_dir = None
        ctl_dir = self.run_dir
        if len(os.path.join(ctl_dir, "ctl.sock")) > 100:
            ctl_dir = self._short_dir = tempfile.mkdtemp(prefix="kamctl-")
        self.ctl_socket = os.path.join(ctl_dir, "ctl.sock")
        self.proc = None
        self.starts = 0

    # configuration

    def render(self):
        """Write kamailio.cfg and tls.cfg into the work directory; return the cfg text."""
        opts = self.options
        defines = []
        if opts["fix_contacts"]:
            defines.append("#!define WITH_FIX_CONTACTS")
        if opts["no_connect"]:
            defines.append("#!define WITH_NO_CONNECT")
        users = "\n".join("\t$sht(users=>%s) = %s;" % (name, _cfg_string(pw))
                          for name, pw in sorted(self.users.items()))
        values = {
            "DEFINES": "\n".join(defines),
            "DEBUG": str(int(opts["debug"])),
            "MODULE_PATH": kamailio_module_dir(self.binary),
            "UDP_PORT": str(self.udp_port),
            "TLS_PORT": str(self.tls_port),
            "DOMAIN": self.domain,
            "HOSTNAME": self.hostname,
            "REMOTE_DOMAIN": self.remote_domain,
            "REMOTE_PORT": str(self.remote_port),
            "TCP_LIFETIME": str(int(opts["connection_lifetime"])),
            "TLS_CFG": self.tls_cfg_path,
            "CTL_SOCKET": self.ctl_socket,
            "SECRET": secrets.token_hex(16),
            "FLOW_TIMER": str(int(opts["flow_timer"])),
            "ONE_TIME_NONCE": "1" if opts["one_time_nonce"] else "0",
            "USERS": users,
            "CHALLENGE_INVITES": "1" if opts["challenge_invites"] else "0",
            "QOP_FLAGS": "1" if opts["qop"] else "0",
        }
        with open(CFG_TEMPLATE) as f:
            text = f.read()
        for name, value in values.items():
            text = text.replace("@@%s@@" % name, value)
        left = re.findall(r"@@[A-Z_]+@@", text)
        if left:
            raise PeerError("kamailio template placeholders not filled: %s" % ", ".join(left))
        with open(self.cfg_path, "w") as f:
            f.write(text)
        with open(self.tls_cfg_path, "w") as f:
            f.write(self._tls_cfg())
        return text

    def _tls_cfg(self):
        verify = "yes" if self.options["verify_client"] else "no"
        c, cert = self.certs, self.options["server_cert"]
        return (
            "[server:default]\n"
            "method = TLSv1.2+\n"
            "verify_certificate = %s\n"
            "require_certificate = %s\n"
            "private_key = %s\n"
            "certificate = %s\n"
            "ca_list = %s\n"
            "\n"
            "[client:default]\n"
            "method = TLSv1.2+\n"
            "verify_certificate = yes\n"
            "require_certificate = yes\n"
            "ca_list = %s\n"
        ) % (verify, verify, c.key(cert), c.pem(cert), c.ca, c.ca)

    def check_config(self):
        """Render and run `kamailio -c`; raise PeerError with its output when it fails."""
        self.render()
        done = subprocess.run([self.binary, "-c", "-f", self.cfg_path], capture_output=True,
                              text=True, cwd=self.workdir)
        if done.returncode != 0:
            raise PeerError("kamailio -c failed:\n" + done.stdout + done.stderr)
        return done.stdout + done.stderr

    # life cycle

    def start(self):
        if self.running:
            return self
        self.render()
        os.makedirs(self.run_dir, exist_ok=True)
        os.makedirs(os.path.dirname(self.ctl_socket), exist_ok=True)
        if os.path.exists(self.ctl_socket):
            os.unlink(self.ctl_socket)
        with open(self.log_path, "a") as log:
            log.write("==== start %d: %s\n" % (self.starts + 1, time.strftime("%H:%M:%S")))
        cmd = [self.binary, "-f", self.cfg_path, "-DD", "-E", "-Y", self.run_dir,
               "-P", os.path.join(self.run_dir, "kamailio.pid"), "-m", "32", "-M", "8",
               "-w", self.workdir]
        self.proc = _spawn(cmd, self.workdir, self.log_path)
        self.starts += 1
        try:
            _wait_until(self._ready, self.start_timeout, "kamailio", self.proc, self.log_path)
        except BaseException:
            self.kill()
            raise
        return self

    def _ready(self):
        # the listening sockets exist before the workers fork; the ctl socket answers
        # once every module is initialised. Probing the TLS port itself would count
        # as an accepted connection, so it is not done.
        if self.tls_port not in bound_ports("tcp") or self.udp_port not in bound_ports("udp"):
            return False
        if not os.path.exists(self.ctl_socket):
            return False
        try:
            self.rpc("core.uptime", timeout=2)
        except PeerError:
            return False
        return True

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def stop(self):
        """Graceful stop (SIGTERM to the process group); returns the exit code."""
        return self._end(signal.SIGTERM)

    def kill(self):
        """Abrupt stop (SIGKILL): connections are reset without a TLS close_notify."""
        return self._end(signal.SIGKILL)

    def _end(self, sig):
        code = _end(self.proc, sig)
        self.proc = None
        if self._short_dir:
            shutil.rmtree(self._short_dir, ignore_errors=True)
        return code

    def restart(self):
        """Stop and start again on the same ports; registrations are lost (memory only)."""
        self.stop()
        return self.start()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # control and counters

    def rpc(self, *args, timeout=5):
        """Run a kamcmd command over the ctl socket and return its output."""
        try:
            done = subprocess.run([self.kamcmd, "-s", "unix:" + self.ctl_socket]
                                  + [str(a) for a in args],
                                  capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise PeerError("kamcmd %s: timed out" % " ".join(map(str, args))) from e
        if done.returncode != 0 or done.stdout.startswith("error"):
            raise PeerError("kamcmd %s: %s%s" % (" ".join(map(str, args)), done.stdout,
                                                 done.stderr))
        return done.stdout

    def tcp_counters(self):
        """Kamailio's tcp counter group: passive_open (connections accepted),
        connect_success (connections Kamailio opened), current_opened_connections, ..."""
        return _parse_rpc_struct(self.rpc("cnt.grp_get_all", "tcp"))

    @property
    def accepted_connections(self):
        """TCP/TLS connections accepted since start (each TLS one is a handshake attempt)."""
        return self.tcp_counters()["passive_open"]

    @property
    def opened_connections(self):
        """TCP/TLS connections Kamailio itself opened since start (towards phones: never)."""
        counters = self.tcp_counters()
        return counters["connect_success"] + counters["connect_failed"]

    def tls_connections(self):
        """Open TLS connections: a list of dicts (src_ip, src_port, dst_port, state, ...)."""
        text = self.rpc("tls.list")
        conns = []
        for block in re.findall(r"\{([^{}]*)\}", text):
            entry = _parse_rpc_struct(block)
            if entry:
                conns.append(entry)
        return conns

    def locations(self, user):
        """Registered contacts of user@domain as raw `ul.lookup` text ('' if none)."""
        try:
            return self.rpc("ul.lookup", "location", "%s@%s" % (user, self.domain))
        except PeerError:
            return ""

    def set_option(self, name, value):
        """Change a run-time option held in the cfg htable (challenge_invites, remote_port)."""
        if isinstance(value, bool):
            value = int(value)
        if isinstance(value, int) and name != "remote_port":
            self.rpc("htable.seti", "cfg", name, value)
        else:
            self.rpc("htable.sets", "cfg", name, str(value))
        if name in self.options:
            self.options[name] = value

    def set_remote_port(self, port):
        """Send calls for remote_domain to 127.0.0.1:port over UDP from now on."""
        self.remote_port = port
        self.set_option("remote_port", port)

    def add_user(self, name, password):
        self.users[name] = password
        self.rpc("htable.sets", "users", name, password)

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def wait_log(self, pattern, timeout=5.0):
        """Wait until the log matches the regex; return the match."""
        found = []

        def matched():
            found[:] = [re.search(pattern, self.log())]
            return found[0] is not None
        _wait_until(matched, timeout, "kamailio log /%s/" % pattern, None, self.log_path)
        return found[0]


# --- sipp ------------------------------------------------------------------

class Sipp:
    """One sipp run over UDP on 127.0.0.1: a UAS answering calls or a UAC placing them.

    scenario: 'uas' or 'uac' (sipp's built-in ones), a name of tools/sipp/NAME.xml, or a
    path to an XML file. keys become `-key NAME VALUE` ([NAME] in the scenario).
    media_port (-mp, [media_port] in the scenario; sipp binds it and the port two
    above): chosen free when rtp_echo is set or media is true, else sipp's default.
    """

    def __init__(self, workdir, scenario="uas", remote=None, local_port=0, calls=1,
                 service=None, keys=None, rtp_echo=False, hold_ms=200, timeout_s=30,
                 extra_args=(), media=False):
        self.binary = require_program("sipp")
        self.workdir = os.path.abspath(os.fspath(workdir))
        os.makedirs(self.workdir, exist_ok=True)
        self.scenario = scenario
        self.remote = remote
        self.port = local_port or free_port("udp")
        self.rtp_echo = rtp_echo
        self.media_port = free_port_pair() if rtp_echo or media else None
        self.calls = calls
        self.service = service
        self.keys = dict(keys or {})
        self.hold_ms = hold_ms
        self.timeout_s = timeout_s
        self.extra_args = list(extra_args)
        tag = "sipp-%d" % self.port
        self.out_path = os.path.join(self.workdir, tag + ".out")
        self.message_path = os.path.join(self.workdir, tag + "-messages.log")
        self.error_path = os.path.join(self.workdir, tag + "-errors.log")
        self.proc = None
        self.returncode = None

    @classmethod
    def uas(cls, workdir, service="sipp", hangup=False, **kw):
        """Answer calls: 180, 200 echoing Record-Route, wait for ACK, then BYE -> 200
        (tools/sipp/answer.xml; sipp's built-in 'uas' drops Record-Route). With
        hangup, sipp sends the BYE itself after hold_ms (tools/sipp/answer_hangup.xml)."""
        return cls(workdir, "answer_hangup" if hangup else "answer", service=service, **kw)

    @classmethod
    def call(cls, workdir, proxy, user, domain, caller="carol", caller_domain="remote.test",
             **kw):
        """Call user@domain through proxy (host:port, UDP), hold hold_ms, then send BYE."""
        keys = {"domain": domain, "caller": caller, "caller_domain": caller_domain}
        keys.update(kw.pop("keys", {}))
        return cls(workdir, "call", remote=proxy, service=user, keys=keys, **kw)

    def command(self):
        cmd = [self.binary]
        if self.remote:
            cmd.append(self.remote)
        if self.scenario in ("uas", "uac"):
            cmd += ["-sn", self.scenario]
        else:
            path = self.scenario
            if not path.endswith(".xml"):
                path = os.path.join(SIPP_SCENARIOS, path + ".xml")
            cmd += ["-sf", path]
        cmd += ["-i", LOCALHOST, "-p", str(self.port), "-t", "u1", "-m", str(self.calls),
                "-mi", LOCALHOST, "-ci", LOCALHOST, "-nostdin", "-d", str(self.hold_ms),
                "-timeout", "%ds" % self.timeout_s, "-timeout_error",
                "-trace_msg", "-message_file", self.message_path,
                "-trace_err", "-error_file", self.error_path]
        if self.service:
            cmd += ["-s", self.service]
        if self.rtp_echo:
            cmd.append("-rtp_echo")
        if self.media_port:
            cmd += ["-mp", str(self.media_port)]
        for name, value in self.keys.items():
            cmd += ["-key", name, str(value)]
        return cmd + self.extra_args

    def link_pcaps(self, *names):
        """Make captures that sipp ships (``dtmf_2833_1.pcap``, ``g711a.pcap``) visible
        to ``<exec play_pcap_audio="NAME"/>``: sipp looks a relative name up in its
        working directory, where each is linked. Returns self; call before start()."""
        for name in names:
            target = os.path.join(self.workdir, name)
            if not os.path.lexists(target):
                os.symlink(sipp_pcap(name), target)
        return self

    def start(self):
        self.proc = _spawn(self.command(), self.workdir, self.out_path)
        _wait_until(lambda: self.port in bound_ports("udp"), 10, "sipp", self.proc,
                    self.out_path)
        return self

    def wait(self, timeout=30):
        """Wait for sipp to finish; return its exit code (0: every call succeeded)."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired as e:
            self.stop()
            raise PeerError("sipp still running after %s s\n%s" % (timeout, self.report())) from e
        self.returncode = _end(self.proc)
        return self.returncode

    def stop(self):
        if self.proc is not None:
            self.returncode = _end(self.proc, signal.SIGTERM, 2.0)
        return self.returncode

    @property
    def ok(self):
        return self.returncode == 0

    def messages(self):
        """The SIP messages sipp sent and received, as logged by -trace_msg."""
        if not os.path.exists(self.message_path):
            return ""
        with open(self.message_path, errors="replace") as f:
            return f.read()

    def report(self):
        """Exit code, screen output and unexpected messages, for assertion messages."""
        parts = ["sipp exit code %s" % self.returncode, _tail(self.out_path, 30),
                 _tail(self.error_path, 30)]
        return "\n".join(p for p in parts if p)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def sipp_pcap(name):
    """Full path of a capture that sipp ships for play_pcap_audio (``dtmf_2833_5.pcap``,
    ``dtmf_2833_pound.pcap``, ``g711a.pcap``), looked up in the data directories of
    the installed sipp's prefix (Debian: share/sip-tester); PeerMissing if absent."""
    prefix = os.path.dirname(os.path.dirname(os.path.realpath(require_program("sipp"))))
    for folder in ("sip-tester", "sipp", os.path.join("sipp", "pcap")):
        path = os.path.join(prefix, "share", folder, name)
        if os.path.exists(path):
            return path
    raise PeerMissing("sipp's capture %s is not installed: run `make setup` (installs the "
                      "Debian package sip-tester)" % name)


# --- tshark ----------------------------------------------------------------

class LoopbackCapture:
    """tshark writing the loopback traffic a capture filter selects into a pcapng file.

    start() returns once packets are really being captured (see there); stop() ends
    tshark after ``settle`` seconds, so that the last packets reach the file; the
    file is ``pcap_path``. Subclasses read it back with ``read(args)``.
    """

    def __init__(self, workdir, bpf, name, interface="lo", settle=0.3):
        self.binary = require_program("tshark")
        self.workdir = os.path.abspath(os.fspath(workdir))
        os.makedirs(self.workdir, exist_ok=True)
        self.bpf = bpf
        self.interface = interface
        self.settle = settle
        self.pcap_path = os.path.join(self.workdir, "%s.pcapng" % name)
        self.err_path = os.path.join(self.workdir, "tshark-%s.err" % name)
        self.live_path = os.path.join(self.workdir, "tshark-%s.out" % name)
        self.probe_port = None  # the UDP port of the start-up probes, once started
        self.proc = None

    def start(self):
        for path in (self.pcap_path, self.err_path, self.live_path):
            if os.path.exists(path):
                os.unlink(path)
        # "Capturing on" comes some milliseconds before packets are really captured, so
        # the filter also takes a UDP probe port: once a probe shows up in the live
        # packet list (-P), the capture is running. Readers filter the probes out.
        probe_sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe_sink.bind((LOCALHOST, 0))
        probe_port = self.probe_port = probe_sink.getsockname()[1]
        cmd = [self.binary, "-i", self.interface,
               "-f", "(%s) or udp port %d" % (self.bpf, probe_port),
               "-w", self.pcap_path, "-P", "-l"]
        self.proc = _spawn(cmd, self.workdir, self.live_path, self.err_path)
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

        def capturing():
            probe.sendto(b"probe", (LOCALHOST, probe_port))
            return os.path.getsize(self.live_path) > 0
        try:
            _wait_until(capturing, 20, "tshark", self.proc, self.err_path)
        except BaseException:
            self.stop()
            raise
        finally:
            probe.close()
            probe_sink.close()
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            time.sleep(self.settle)        # let the last packets reach the capture
            _end(self.proc, signal.SIGINT, 5.0)
        self.proc = None

    def read(self, args):
        """Stop capturing, then ``tshark -r`` the capture with ``args``; its output."""
        if self.proc is not None:
            self.stop()
        if not os.path.exists(self.pcap_path):
            raise PeerError("tshark wrote no capture\n" + _tail(self.err_path))
        done = subprocess.run([self.binary, "-r", self.pcap_path] + list(args),
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise PeerError("tshark -r failed: " + done.stderr)
        return done.stdout

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class TlsHandshakeCounter(LoopbackCapture):
    """Capture loopback traffic of one TCP port with tshark and count TLS ClientHellos.

    with TlsHandshakeCounter(workdir, kam.tls_port) as hellos:
        ... traffic ...
    hellos.count()        # ClientHello messages seen (tls.handshake.type == 1)
    """

    def __init__(self, workdir, port, interface="lo", settle=0.3):
        LoopbackCapture.__init__(self, workdir, "tcp port %d" % port, "tls-%d" % port,
                                 interface, settle)
        self.port = port

    def client_hellos(self):
        """Each ClientHello as a dict: src_port, server_name (SNI, '' if none)."""
        out = self.read(["-d", "tcp.port==%d,tls" % self.port,
                         "-Y", "tls.handshake.type == 1", "-T", "fields", "-e", "tcp.srcport",
                         "-e", "tls.handshake.extensions_server_name"])
        hellos = []
        for line in out.splitlines():
            if line.strip():
                src, _, sni = line.partition("\t")
                hellos.append({"src_port": int(src.split(",")[0]), "server_name": sni})
        return hellos

    def count(self):
        return len(self.client_hellos())


def _field_value(text):
    """A ``tshark -T fields`` value: int (decimal or 0x hex), bool, None when empty."""
    if text == "":
        return None
    if text in ("True", "False"):
        return text == "True"
    try:
        return int(text, 0)
    except ValueError:
        return text


class RtpCapture(LoopbackCapture):
    """Capture the RTP one UDP port on the loopback sends and receives, and read it
    back decoded by tshark: RTP headers, and RFC 4733 telephone-events through
    tshark's own rtpevent dissector (payload types 100 and 101 are decoded as
    events by default; give others in ``event_payload_types``).

    with RtpCapture(workdir, phone_rtp_port, event_payload_types=(96,)) as rtp:
        ... a call ...
    rtp.packets(src_port=phone_rtp_port)    # what the phone sent, in capture order

    Each packet is a dict: src_port, dst_port, payload_type, marker (bool), seq,
    timestamp, ssrc, and for telephone-events event, end (bool), volume, duration
    (None in audio packets).
    """

    FIELDS = (("src_port", "udp.srcport"), ("dst_port", "udp.dstport"),
              ("payload_type", "rtp.p_type"), ("marker", "rtp.marker"), ("seq", "rtp.seq"),
              ("timestamp", "rtp.timestamp"), ("ssrc", "rtp.ssrc"),
              ("event", "rtpevent.event_id"), ("end", "rtpevent.end_of_event"),
              ("volume", "rtpevent.volume"), ("duration", "rtpevent.duration"))
    BOOLEAN = ("marker", "end")

    def __init__(self, workdir, port, event_payload_types=(), interface="lo", settle=0.3):
        LoopbackCapture.__init__(self, workdir, "udp port %d" % port, "rtp-%d" % port,
                                 interface, settle)
        self.port = port
        self.event_payload_types = tuple(event_payload_types)

    def packets(self, src_port=None, dst_port=None):
        """The RTP packets of the port (only those from ``src_port`` / to ``dst_port``
        when given), in capture order."""
        wanted = ["rtp", "udp.port == %d" % self.port]
        if src_port is not None:
            wanted.append("udp.srcport == %d" % src_port)
        if dst_port is not None:
            wanted.append("udp.dstport == %d" % dst_port)
        args = ["-d", "udp.port==%d,rtp" % self.port]
        for payload_type in self.event_payload_types:
            args += ["-d", "rtp.pt==%d,rtpevent" % payload_type]
        args += ["-Y", " && ".join(wanted), "-T", "fields", "-E", "occurrence=f"]
        for _, field in self.FIELDS:
            args += ["-e", field]
        packets = []
        for line in self.read(args).splitlines():
            if not line.strip():
                continue
            values = line.split("\t")
            packet = {}
            for (name, _), text in zip(self.FIELDS, values, strict=True):
                value = _field_value(text)
                if name in self.BOOLEAN and value is not None:
                    value = bool(value)
                packet[name] = value
            packets.append(packet)
        return packets
