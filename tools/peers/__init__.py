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

from tools.peers.capture import LoopbackCapture, RtpCapture, TlsHandshakeCounter
from tools.peers.certs import CertSet, make_certs
from tools.peers.kamailio import Kamailio, kamailio_module_dir
from tools.peers.process import (LOCALHOST, PeerError, PeerMissing, bound_ports, free_port,
                                 free_port_pair, require_program)
from tools.peers.sipp import Sipp, sipp_pcap

__all__ = ["LOCALHOST", "CertSet", "Kamailio", "LoopbackCapture", "PeerError", "PeerMissing",
           "RtpCapture", "Sipp", "TlsHandshakeCounter", "bound_ports", "free_port",
           "free_port_pair", "kamailio_module_dir", "make_certs", "require_program",
           "sipp_pcap"]
