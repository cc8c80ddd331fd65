"""DESIGN rule 1, failure half: the persistent connection comes back after the proxy dies.

Rule: when Kamailio is killed (SIGKILL: no TLS close_notify, no FIN from a
clean shutdown) and started again on the same ports, the phone sees the
connection fail (PROXY_DOWN, with the calls in progress named), re-opens it at
once and then with the RFC 5626 4.5 back-off, and re-registers over the new
connection (PROXY_RECOVERED, REGISTERED) within 2 s of the proxy being back;
the next call connects over it. The back-off here is configured short
(reconnect.base_s 0.5, max_s 1) so the test does not wait out RFC 5626's 30 s.
A call that was up when the connection failed is named in PROXY_DOWN and
stays up for the user; what the proxy can still do for it is shown below.
"""

import os
import time

from phonetest import SCENARIOS, KamailioPool, PhoneSim, PhoneThread, certs, phone_config
from tools.peers import Sipp, TlsHandshakeCounter

__all__ = ["certs"]

FAST_RECONNECT = {"base_s": 0.5, "max_s": 1}


def test_proxy_killed_and_restarted_phonesim_reregisters_and_calls(tmp_path, certs):
    with KamailioPool(tmp_path, certs) as pool, \
            Sipp.uas(tmp_path / "uas", calls=2, hold_ms=0) as uas:
        kam = pool.start(fix_contacts=False, no_connect=False, remote_port=uas.port)
        doc = phone_config(certs, kam, reconnect=FAST_RECONNECT)
        hellos = TlsHandshakeCounter(tmp_path / "tshark", kam.tls_port).start()
        sim = PhoneSim(tmp_path / "phone", doc,
                       os.path.join(SCENARIOS, "recovery.txt")).start()
        try:
            sim.wait_event("RELEASECALL", 15)
            killed_at = time.monotonic()
            kam.kill()
            time.sleep(0.5)
            kam.start()
            back_at = time.monotonic()
            down = sim.wait_event("PROXY_DOWN", 5)
            recovered = sim.wait_event("PROXY_RECOVERED", 5)
            # Waiting consumes events in order: this is the REGISTERED after recovery.
            sim.wait_event("REGISTERED", 5)
            registered = sim.wait_event("REGISTERED", 2.0 + (back_at - killed_at))
            locations = kam.locations("alice")       # before the phone un-registers
            assert sim.wait(30) == 0, sim.output()
        finally:
            sim.kill()
        accepted = kam.accepted_connections
        client_hellos = hellos.client_hellos()

    output = sim.output()
    print("proxy down noticed %.3f s after the kill; re-registered %.3f s after the "
          "restarted proxy was ready" % (down.time - killed_at, registered.time - back_at))
    assert registered.time - back_at <= 2.0, output
    assert down.field("reason") in ("reset", "closed by peer"), down
    assert down.field("calls") == "none", down
    assert recovered.field("conn") != down.field("conn"), output
    # One handshake before the kill, one after: the retries while the proxy was
    # down were refused at TCP level and never reached TLS.
    assert len(client_hellos) == 2, client_hellos
    assert accepted == 1, accepted                # the restarted proxy saw one connection
    assert "sip:alice@127.0.0.1" in locations, locations       # the registrar knows us again
    assert len(sim.find("CONNECTED")) == 2, output
    failures = sim.find("TLSFAIL")
    assert failures and {e.field("reason") for e in failures} == {"refused"}, failures
    retries = [float(e.field("retry_in")) for e in sim.find("PROXY_DOWN")]
    assert retries[0] == 0.0, retries                          # at once, then back off
    assert all(0 < r <= FAST_RECONNECT["max_s"] for r in retries[1:]), retries


def test_call_in_progress_when_the_connection_fails_is_reported(tmp_path, certs):
    """The call stays up for the user (RTP does not need the proxy) and is named
    in PROXY_DOWN; once the connection is back, hanging up sends the BYE over the
    new connection. Kamailio's outbound module put a flow token naming the old
    connection in the call's Record-Route (RFC 5626 5.3), so it cannot relay the
    BYE to the far end any more: it answers 477 and the call ends locally."""
    with KamailioPool(tmp_path, certs) as pool, \
            Sipp.uas(tmp_path / "uas", calls=1, hold_ms=0) as uas:
        kam = pool.start(fix_contacts=False, no_connect=False, remote_port=uas.port)
        with PhoneThread(phone_config(certs, kam, reconnect=FAST_RECONNECT)) as phone:
            phone.wait_event("REGISTERED", 5)
            number = phone.make_call("sip:sipp@remote.test")
            phone.wait_event("CONNECTED", 5)
            kam.kill()
            down = phone.wait_event("PROXY_DOWN", 5)
            kam.start()
            phone.wait_event("PROXY_RECOVERED", 5)
            phone.wait_event("REGISTERED", 5)
            state = phone.do(lambda now: phone.phone.calls.state(number))
            phone.hang_up(number)
            stats = phone.stats
        assert uas.proc.poll() is None          # sipp never got the BYE

    assert down.field("calls") == str(number), down
    assert state == "CONNECTED", phone.describe()
    assert not phone.find("DISCONNECTED") and not phone.find("TASKFAIL"), phone.describe()
    assert phone.find("DROPCALL")[0].field("status") == "477", phone.describe()
    assert stats["handshakes"] == 2, stats       # the BYE went over the new connection
