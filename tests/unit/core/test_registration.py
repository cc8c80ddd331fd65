"""Registration: refresh, 423, digest (stale nonces), back-off, un-REGISTER, outbound."""

from firmware.core.commands import UaEvent as ev
from firmware.core.commands import PROXY
from firmware.core.registration import REGISTERED, refresh_delay
from simphones import World, events, has


def test_refresh_delay_is_early_but_not_hasty():
    assert refresh_delay(3600) == 3240
    assert refresh_delay(600) == 540
    assert refresh_delay(60) == 30
    for granted in (1, 10, 30, 120, 7200):
        assert 0 < refresh_delay(granted) < granted


def test_registration_keeps_itself_alive_for_24_hours():
    world = World(101, max_expires=300, history=40)     # a day of messages: keep few
    alice = world.phone("alice", expires=3600)
    proxy = world.proxy
    start = world.now
    assert world.run_until(has(alice, ev.REGISTERED))
    gaps = 0
    checks = 0
    while world.now - start < 24 * 3600:
        world.sim.run(60.0)
        checks += 1
        binding = proxy.bindings.get("alice")
        if not binding or binding[0].expires_at <= world.now:
            gaps += 1
    assert checks >= 24 * 60
    assert gaps == 0
    assert alice.ua.registration.state == REGISTERED
    assert alice.ua.registration.granted == 300          # the registrar's cap
    registers = proxy.methods("REGISTER")
    # One refresh per 270 s plus the first challenge round trip.
    assert 24 * 3600 / 270 - 2 <= proxy.counts["REGISTER"] - 2 <= 24 * 3600 / 270 + 2
    assert alice.counts[ev.REFRESHING] == alice.counts[ev.REGISTERED] - 1
    assert alice.counts[ev.REGISTERED] == proxy.counts["REGISTER"] - 1
    assert ev.REG_FAILED not in alice.counts
    # Proactive credentials: only the very first REGISTER was challenged.
    assert proxy.challenges == 1
    seqs = [r.cseq()[0] for r in registers]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert seqs[-1] == proxy.counts["REGISTER"]
    assert len(set([r.call_id() for r in registers])) == 1


def test_stale_nonce_is_answered_without_failure():
    world = World(102, nonce_ttl=200)
    alice = world.phone("alice")
    assert world.run_until(has(alice, ev.REGISTERED))
    assert world.run_until(has(alice, ev.REGISTERED, 3), limit=2000)
    statuses = [key for key, msg in world.proxy.received if key != "REGISTER"]
    assert statuses == []                                 # the proxy saw only requests
    stale = [m for m in world.proxy.methods("REGISTER")]
    assert len(stale) >= 6                                # each refresh re-challenged
    assert world.proxy.challenges >= 3
    assert ev.REG_FAILED not in alice.names()


def test_wrong_password_fails_and_retries_with_back_off():
    world = World(103)
    alice = world.phone("alice", start=False, password="wrong")
    alice.ua.start(world.now)
    start = world.now
    assert world.run_until(has(alice, ev.REG_FAILED))
    fail = events(alice, ev.REG_FAILED)[0]
    assert fail.status == 401 and fail.cause == "authentication failed"
    assert "wrong" not in str(fail) and "pw-alice" not in str(fail)
    first_fail = world.now
    assert world.run_until(has(alice, ev.REG_FAILED, 2), limit=4000)
    second_fail = world.now
    assert world.run_until(has(alice, ev.REG_FAILED, 3), limit=4000)
    third_fail = world.now
    first_wait = second_fail - first_fail
    second_wait = third_fail - second_fail
    assert 15 <= first_wait <= 31 and 30 <= second_wait <= 61
    assert first_fail - start < 1


def test_423_interval_too_brief_is_honoured():
    world = World(104, min_expires=1800)
    alice = world.phone("alice", expires=600)
    assert world.run_until(has(alice, ev.REGISTERED))
    registers = world.proxy.methods("REGISTER")
    assert [r.headers.get("Expires") for r in registers][-2:] == ["600", "1800"]
    assert alice.ua.registration.granted == 1800
    assert ev.REG_FAILED not in alice.names()


def test_timeout_and_transport_error_are_reported_as_failures():
    world = World(105, loss=1.0)
    alice = world.phone("alice")
    assert world.run_until(has(alice, ev.REG_FAILED))
    fail = events(alice, ev.REG_FAILED)[0]
    assert fail.status == 408 and fail.cause == "timeout"

    world = World(106)
    bob = world.phone("bob", start=False)
    bob.fail_targets.append(PROXY)
    bob.ua.start(world.now)
    assert world.run_until(has(bob, ev.REG_FAILED))
    fail = events(bob, ev.REG_FAILED)[0]
    assert fail.status == 503 and fail.cause == "transport error"
    # After the back-off it tries again, and succeeds once the proxy is reachable.
    bob.fail_targets.remove(PROXY)
    assert world.run_until(has(bob, ev.REGISTERED), limit=100)


def test_unregister_at_shutdown():
    world = World(107)
    alice = world.phone("alice")
    assert world.run_until(has(alice, ev.REGISTERED))
    assert world.proxy.bindings["alice"]
    alice.ua.shutdown(world.now)
    assert world.run_until(has(alice, ev.UNREGISTERED))
    last = world.proxy.methods("REGISTER")[-1]
    assert last.headers.get("Expires") == "0"
    assert world.proxy.bindings["alice"] == []
    assert alice.ua.next_deadline() is None or alice.ua.registration.refresh_at is None


def test_outbound_contact_carries_instance_and_reg_id():
    world = World(108)
    alice = world.phone("alice", reliable=True, use_outbound=True,
                        instance_id="urn:uuid:00000000-0000-1000-8000-000000000001")
    assert world.run_until(has(alice, ev.REGISTERED))
    register = world.proxy.methods("REGISTER")[-1]
    contact = register.contacts()[0]
    assert contact.param("+sip.instance") == '"<urn:uuid:00000000-0000-1000-8000-000000000001>"'
    assert contact.param("reg-id") == "1"
    assert contact.uri.param("transport") == "tcp"
    assert "outbound" in register.headers.get("Supported")
    assert register.top_via().transport == "TCP"
    # Over a connection nothing is retransmitted.
    assert len(alice.sent("REGISTER")) == 2


def test_register_without_outbound_has_plain_contact():
    world = World(109)
    alice = world.phone("alice")
    assert world.run_until(has(alice, ev.REGISTERED))
    contact = world.proxy.methods("REGISTER")[-1].contacts()[0]
    assert contact.param("+sip.instance") is None and contact.param("reg-id") is None
    assert str(events(alice, ev.REGISTERED)[0]) == "registered status=200 expires=600"
