"""DESIGN rule 1 against a real proxy: one TLS connection for everything.

Rule: with the proxy's IP address and hostname both configured, tools/phonesim
registers, places ten calls and receives one, and the whole run costs exactly
one TLS handshake (ClientHellos counted on the proxy's port), sent to the IP
with the hostname as SNI. Kamailio runs in its standards-only mode
(fix_contacts=False) and is allowed to open connections (no_connect=False), so
the incoming call reaching the phone without any connection towards it shows
that the phone's own Via/Contact (RFC 5626 outbound, Via ;alias) made the proxy
reuse the phone's connection. The TLS session keys the phone logs
(SSLKEYLOGFILE) decrypt the capture, so the headers are checked on the wire.
"""

import os

from phonetest import (PROXY_HOSTNAME, SCENARIOS, KamailioPool, PhoneSim, call_phone,
                       certs, decrypted_sip, phone_config)
from tools.peers import Sipp, TlsHandshakeCounter

__all__ = ["certs"]          # the session fixture, imported for pytest

OUTGOING_CALLS = 10


def test_register_ten_calls_out_one_in_over_one_connection(tmp_path, certs):
    keylog = tmp_path / "keys.log"
    with KamailioPool(tmp_path, certs) as pool, \
            Sipp.uas(tmp_path / "uas", calls=OUTGOING_CALLS, hold_ms=0) as uas:
        kam = pool.start(fix_contacts=False, no_connect=False, remote_port=uas.port)
        doc = phone_config(certs, kam)
        phone_tls_port = doc["listen"]["tls_port"]
        opened_before = kam.opened_connections
        hellos = TlsHandshakeCounter(tmp_path / "tshark", kam.tls_port).start()
        sim = PhoneSim(tmp_path / "phone", doc, os.path.join(SCENARIOS, "persistent.txt"),
                       env={"SSLKEYLOGFILE": str(keylog)}).start()
        try:
            sim.wait_event("RELEASECALL", 40, lambda e: e.field("call") == str(OUTGOING_CALLS))
            caller = call_phone(tmp_path / "caller", kam)
            assert caller.wait(30) == 0, caller.report()
            assert sim.wait(30) == 0, sim.output()
        finally:
            sim.kill()
        counters = kam.tcp_counters()
        opened_after = kam.opened_connections
        client_hellos = hellos.client_hellos()

    output = sim.output()
    assert "PASS all expectations held" in output
    assert len(sim.find("CONNECTED")) == OUTGOING_CALLS + 1, output
    assert len(sim.find("OFFERED")) == 1, output
    # Exactly one handshake in the whole run, to the IP with the hostname as SNI.
    assert [h["server_name"] for h in client_hellos] == [PROXY_HOSTNAME], client_hellos
    assert counters["passive_open"] == 1, counters
    assert len(sim.find("CONNECTED_PROXY")) == 1, output
    # No connection towards the phone: none opened by Kamailio, none accepted by the phone.
    assert opened_after == opened_before == 0, counters
    assert sim.find("CONNECTION_IN") == [], output
    assert not sim.find("PROXY_DOWN"), output

    # SSLKEYLOGFILE was honoured: the key log exists and decrypts the capture.
    assert keylog.exists() and keylog.stat().st_size > 0
    messages = decrypted_sip(hellos.pcap_path, str(keylog), kam.tls_port)
    assert {number for number, _, _ in messages} == {0}, "one connection in the capture"
    sent = [m for _, by_phone, m in messages if by_phone and m.is_request]
    received = [m for _, by_phone, m in messages if not by_phone and m.is_request]
    methods = [m.method for m in sent]
    assert methods.count("REGISTER") >= 2 and methods.count("BYE") == OUTGOING_CALLS, methods
    assert methods.count("INVITE") >= OUTGOING_CALLS, methods
    # The incoming call came in over the phone's own connection.
    assert [m.method for m in received] == ["INVITE", "ACK", "BYE"], received
    route = "<sip:%s:%d;transport=tls;lr>" % (PROXY_HOSTNAME, kam.tls_port)
    for message in sent:
        via = message.headers.get("Via")
        assert via.startswith("SIP/2.0/TLS 127.0.0.1:%d;branch=z9hG4bK" % phone_tls_port), via
        assert via.endswith(";rport;alias"), via
        routes = message.headers.get_all("Route")
        # Out of dialog: the proxy as a loose route; in a dialog: the proxy's Record-Route.
        if message.method in ("REGISTER", "INVITE") or message.to_addr().tag is None:
            assert routes == [route], message
        else:
            assert routes and ";lr" in routes[0] and ":%d;" % kam.tls_port in routes[0], routes
    for message in sent:
        contact = message.headers.get("Contact")
        if message.method == "REGISTER":
            assert contact.startswith("<sip:alice@127.0.0.1:%d;transport=tls>;+sip.instance="
                                      '"<urn:uuid:' % phone_tls_port), contact
            assert contact.endswith(">\";reg-id=1"), contact
            assert "outbound" in message.headers.get("Supported"), message
        elif message.method == "INVITE":
            assert contact == "<sip:alice@127.0.0.1:%d;transport=tls;ob>" % phone_tls_port
