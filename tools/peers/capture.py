"""tshark on the loopback: captures, TLS handshakes counted, RTP and RFC 4733 decoded.

Rule: a capture counts as running only once a probe datagram shows up in it,
and the packets are read back with tshark's own dissectors, not ours.
"""

import os
import signal
import socket
import subprocess
import time

from tools.peers.process import (LOCALHOST, PeerError, end_process, spawn, log_tail, wait_until,
                                  require_program)


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
        self.proc = spawn(cmd, self.workdir, self.live_path, self.err_path)
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

        def capturing():
            probe.sendto(b"probe", (LOCALHOST, probe_port))
            return os.path.getsize(self.live_path) > 0
        try:
            wait_until(capturing, 20, "tshark", self.proc, self.err_path)
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
            end_process(self.proc, signal.SIGINT, 5.0)
        self.proc = None

    def read(self, args):
        """Stop capturing, then ``tshark -r`` the capture with ``args``; its output."""
        if self.proc is not None:
            self.stop()
        if not os.path.exists(self.pcap_path):
            raise PeerError("tshark wrote no capture\n" + log_tail(self.err_path))
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
