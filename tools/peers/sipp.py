"""sipp as the remote party: answering, calling, echoing or playing RTP.

Rule: scenarios live in tools/sipp (or are sipp's built-in ones); every
socket sipp opens, its control socket included, is bound to 127.0.0.1.
"""

import os
import signal
import subprocess

from tools.peers.process import (LOCALHOST, SIPP_SCENARIOS, PeerError, PeerMissing, end_process,
                                  spawn, log_tail, wait_until, bound_ports, free_port,
                                  free_port_pair, require_program)


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
        self.proc = spawn(self.command(), self.workdir, self.out_path)
        wait_until(lambda: self.port in bound_ports("udp"), 10, "sipp", self.proc,
                    self.out_path)
        return self

    def wait(self, timeout=30):
        """Wait for sipp to finish; return its exit code (0: every call succeeded)."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired as e:
            self.stop()
            raise PeerError("sipp still running after %s s\n%s" % (timeout, self.report())) from e
        self.returncode = end_process(self.proc)
        return self.returncode

    def stop(self):
        if self.proc is not None:
            self.returncode = end_process(self.proc, signal.SIGTERM, 2.0)
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
        parts = ["sipp exit code %s" % self.returncode, log_tail(self.out_path, 30),
                 log_tail(self.error_path, 30)]
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
