"""DESIGN rule 5 against a real proxy: a TLS failure is an event, never a fallback.

Rule: a proxy certificate from a CA the phone does not trust, one for another
host name, and an expired one are each refused with their own reason (TLSFAIL
reason=untrusted / "hostname mismatch" / expired), the registration fails
(REGFAIL), and the capture of every port the phone could have used (the
proxy's TLS and UDP ports, the phone's UDP port) holds no SIP in clear and no
datagram to the proxy. The phone's ClientHello offers TLS 1.2 and 1.3 only.
A proxy that never answers the handshake gives reason "timed out". Mutual
TLS: a proxy that requires a client certificate registers a phone that has
one, and refuses one that has none (reported, and retried with back-off).
"""

import re
import socket
import time

import pytest

from phonetest import (KamailioPool, PhoneThread, Capture, certs, phone_config)

__all__ = ["certs"]

TLS12, TLS13 = "0x0303", "0x0304"
SIP_IN_CLEAR = re.compile(rb"SIP/2\.0|REGISTER")


@pytest.mark.parametrize("server_cert, reason", [
    ("untrusted", "untrusted"),
    ("wronghost", "hostname mismatch"),
    ("expired", "expired"),
])
def test_bad_proxy_certificate_is_refused_without_fallback(tmp_path, certs, server_cert,
                                                           reason):
    with KamailioPool(tmp_path, certs) as pool:
        kam = pool.start(server_cert=server_cert)
        doc = phone_config(certs, kam)
        phone_udp = doc["listen"]["udp_port"]
        capture = Capture(tmp_path / "tshark", "tcp port %d or udp port %d or udp port %d"
                          % (kam.tls_port, kam.udp_port, phone_udp)).start()
        with PhoneThread(doc) as phone:
            failure = phone.wait_event("TLSFAIL", 5)
            regfail = phone.wait_event("REGFAIL", 5)
        counters = kam.tcp_counters()

    assert failure.field("reason") == reason, phone.describe()
    assert regfail.field("status") == "503", regfail          # a transport error
    assert not phone.find("REGISTERED") and not phone.find("CONNECTED_PROXY"), phone.describe()
    assert counters["passive_open"] >= 1, counters             # TLS was tried
    packets = capture.fields("", "udp.srcport", "udp.dstport", "tcp.payload", "udp.payload",
                             "tls.handshake.type", "tls.handshake.extensions.supported_version",
                             options=["-d", "tcp.port==%d,tls" % kam.tls_port])
    assert packets, "nothing captured"
    clear = [p for p in packets if SIP_IN_CLEAR.search(bytes.fromhex(
        (p[2] + p[3]).replace(":", "")))]
    assert clear == [], clear
    assert [p for p in packets if p[1] == str(kam.udp_port)] == []     # no UDP to the proxy
    assert [p for p in packets if p[0] == str(phone_udp)] == []        # nothing from our UDP
    # Each attempt was a TLS handshake offering TLS 1.2 and 1.3, nothing older.
    hellos = [p[5] for p in packets if p[4].split(",")[0] == "1"]
    assert hellos, "no ClientHello captured"
    for versions in hellos:
        assert set(versions.split(",")) == {TLS12, TLS13}, versions


def test_mutual_tls_client_certificate(tmp_path, certs):
    with KamailioPool(tmp_path, certs) as pool:
        kam = pool.start(verify_client=True)
        doc = phone_config(certs, kam, tls={"cert_file": certs.pem("client"),
                                            "key_file": certs.key("client")})
        with PhoneThread(doc) as phone:
            registered = phone.wait_event("REGISTERED", 5)
        connections = phone.find("CONNECTED_PROXY")
    assert registered.field("status") == "200"
    assert len(connections) == 1, phone.describe()


def test_mutual_tls_without_client_certificate_is_reported_and_backs_off(tmp_path, certs):
    """With TLS 1.3 the proxy refuses a missing client certificate only after the
    handshake completed: still a TLSFAIL, and the retries back off (RFC 5626
    4.5) instead of reconnecting in a tight loop: only a registration or a pong
    over a connection proves it good."""
    with KamailioPool(tmp_path, certs) as pool:
        kam = pool.start(verify_client=True)
        with PhoneThread(phone_config(certs, kam, reconnect={"base_s": 30})) as phone:
            phone.wait_event("REGFAIL", 5)
            failure = phone.wait_event("TLSFAIL", 5)
            first = phone.wait_event("PROXY_DOWN", 5)
            second = phone.wait_event("PROXY_DOWN", 5)
            time.sleep(0.5)
        attempts = len(phone.find("CONNECTED_PROXY"))
    assert not phone.find("REGISTERED"), phone.describe()
    assert failure.field("reason") == "handshake failed", failure
    assert float(first.field("retry_in")) == 0.0, first          # at once...
    assert float(second.field("retry_in")) >= 15.0, second      # ...then 50-100 % of 30 s
    assert attempts == 2, phone.describe()


def test_proxy_that_never_answers_the_handshake_times_out(tmp_path, certs):
    """A listener that accepts TCP (the kernel does) but never speaks TLS."""
    silent = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        proxy = type("Silent", (), {"tls_port": silent.getsockname()[1]})()
        with PhoneThread(phone_config(certs, proxy)) as phone:
            failure = phone.wait_event("TLSFAIL", 10)
            phone.wait_event("REGFAIL", 5)
    finally:
        silent.close()
    assert failure.field("reason") == "timed out", phone.describe()
