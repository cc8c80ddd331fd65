"""DESIGN rules 2 and 4 against a real proxy: a connection per transaction, and the phone as server.

Rule: with only the proxy's hostname configured ("localhost", which the
resolver knows without DNS, so the phone really looks the name up, and a proxy
certificate for it) there is no persistent connection: a TLS connection is
opened when a transaction to the proxy starts, shared by the transactions that
overlap it, and closed when none uses it. So the ClientHellos on the proxy's
port equal the busy periods: the registration (REGISTER, 401, REGISTER), one
outgoing call (INVITE ... BYE, held together by the INVITE's Accepted state,
RFC 6026 Timer M = 64*T1, with T1 0.05 s here), the BYE of an incoming call,
and the un-REGISTER at shutdown. The incoming call itself arrives over a connection Kamailio opens to
the phone's TLS server port (its Contact), and the phone does not use that
connection for its own BYE. No RFC 5626 outbound here: it would ask the proxy
to reach the phone over a connection that is about to close.
"""

import os

from phonetest import (SCENARIOS, KamailioPool, PhoneThread, certs, localhost_certs,
                       phone_config)
from tools.peers import Sipp, TlsHandshakeCounter

__all__ = ["certs", "localhost_certs"]


def link_connection(phone):
    return phone.do(lambda now: phone.phone.link.conn_id)


def test_connection_per_transaction_and_incoming_call_on_server_port(tmp_path,
                                                                      localhost_certs):
    certs = localhost_certs
    with KamailioPool(tmp_path, certs) as pool, \
            Sipp.uas(tmp_path / "uas", calls=1, hold_ms=0) as uas:
        kam = pool.start(hostname="localhost", fix_contacts=False, no_connect=False,
                         remote_port=uas.port)
        doc = phone_config(certs, kam, address=None, hostname="localhost",
                           sip={"t1_s": 0.05})
        hellos = TlsHandshakeCounter(tmp_path / "tshark", kam.tls_port).start()
        with PhoneThread(doc, log_sip=True) as phone:
            assert phone.phone.link.mode == "transaction"
            # 1. Registration: one connection for the challenge and the answer.
            phone.wait_event("REGISTERED", 5)
            phone.wait_event("PROXY_CLOSED", 5)
            assert link_connection(phone) is None
            # 2. An outgoing call: INVITE, ACK and BYE share one connection.
            number = phone.make_call("sip:sipp@remote.test")
            phone.wait_event("CONNECTED", 5)
            phone.hang_up(number)
            phone.wait_event("PROXY_CLOSED", 5)
            assert link_connection(phone) is None
            # 3. An incoming call: Kamailio connects to the phone's TLS port; the
            #    phone's BYE goes over a new connection of its own.
            caller = Sipp(tmp_path / "caller", os.path.join(SCENARIOS, "call_wait_bye.xml"),
                          remote="127.0.0.1:%d" % kam.udp_port, service="alice", timeout_s=20,
                          keys={"domain": "example.test", "caller": "carol",
                                "caller_domain": "remote.test"}).start()
            offered = phone.wait_event("OFFERED", 5)
            assert link_connection(phone) is None      # nothing opened to answer it
            phone.answer(offered.call)
            phone.wait_event("CONNECTED", 5)
            phone.hang_up(offered.call)
            assert caller.wait(10) == 0, caller.report()
            phone.wait_event("PROXY_CLOSED", 5)
        # 4. Shutting down: the un-REGISTER, over one more connection.
        stats = phone.stats
        sip_log = list(phone.sip_log)
        opened_by_proxy = kam.opened_connections
        client_hellos = hellos.client_hellos()

    busy_periods = 4
    assert len(client_hellos) == busy_periods, (client_hellos, phone.describe())
    assert {h["server_name"] for h in client_hellos} == {"localhost"}, client_hellos
    assert stats["proxy_connects"] == stats["handshakes"] == busy_periods, stats
    assert stats["proxy_closes"] == len(phone.find("PROXY_CLOSED")) == busy_periods, stats
    assert stats["inbound_connections"] == 1 and opened_by_proxy == 1, stats
    assert len(phone.find("CONNECTION_IN")) == 1, phone.describe()
    drops = phone.find("DROPCALL")
    assert [d.field("status") for d in drops] == ["200", "200"], phone.describe()
    # What went where: the incoming INVITE came over the inbound connection and
    # its responses went back on it; the phone's own BYE went to the proxy link.
    inbound = [data for _, direction, peer, data in sip_log
               if direction == "<" and data.startswith(b"INVITE ")]
    assert len(inbound) == 1
    sent_to_proxy = [data.split(b" ", 1)[0] for _, direction, peer, data in sip_log
                     if direction == ">" and peer == "proxy"]
    assert sent_to_proxy.count(b"BYE") == 2, sent_to_proxy
    registers = [data for _, direction, peer, data in sip_log
                 if direction == ">" and data.startswith(b"REGISTER ")]
    for data in registers:
        assert b"reg-id" not in data and b"+sip.instance" not in data, data
        assert b"Route: <sip:localhost:%d;transport=tls;lr>" % kam.tls_port in data, data
        assert b"Contact: <sip:alice@127.0.0.1:%d;transport=tls>" % (
            doc["listen"]["tls_port"]) in data, data


def test_address_only_is_per_transaction_and_verified_against_the_address(tmp_path, certs):
    """Only the IP address configured: no persistent connection either, and the
    certificate is checked against the address (the proxy's has IP:127.0.0.1)."""
    with KamailioPool(tmp_path, certs) as pool:
        kam = pool.start(fix_contacts=False, no_connect=False)
        hellos = TlsHandshakeCounter(tmp_path / "tshark", kam.tls_port).start()
        with PhoneThread(phone_config(certs, kam, hostname=None)) as phone:
            assert phone.phone.link.mode == "transaction"
            phone.wait_event("REGISTERED", 5)
            phone.wait_event("PROXY_CLOSED", 5)
            assert link_connection(phone) is None
        client_hellos = hellos.client_hellos()
    # register and un-register, each over its own connection; no SNI for an address
    assert [h["server_name"] for h in client_hellos] == ["", ""], client_hellos
    assert not phone.find("TLSFAIL"), phone.describe()
