"""Kamailio as the proxy and registrar of the integration tests.

Rule: the configuration is rendered from tools/kamailio/kamailio.cfg.tmpl
into the test's own directory, Kamailio listens on 127.0.0.1 only (TLS and
UDP, ports chosen free), and its state is read and changed over its RPC
interface (kamcmd), never by parsing its log alone.
"""

import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time

from tools.peers.certs import CertSet
from tools.peers.process import (CFG_TEMPLATE, MODULE_PACKAGES, PeerError,
                                  PeerMissing, end_process, spawn, wait_until, bound_ports,
                                  free_port, require_program)


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
        self.proc = spawn(cmd, self.workdir, self.log_path)
        self.starts += 1
        try:
            wait_until(self._ready, self.start_timeout, "kamailio", self.proc, self.log_path)
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
        return self.end_process(signal.SIGTERM)

    def kill(self):
        """Abrupt stop (SIGKILL): connections are reset without a TLS close_notify."""
        return self.end_process(signal.SIGKILL)

    def end_process(self, sig):
        code = end_process(self.proc, sig)
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
        wait_until(matched, timeout, "kamailio log /%s/" % pattern, None, self.log_path)
        return found[0]
