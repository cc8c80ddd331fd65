from firmware.core.connpolicy import (
    PING, PONG, Close, Connect, LinkDown, LinkUp, ProxyLink, Undelivered, Write,
    effective_mode)


def kinds(items):
    return [type(item).__name__ for item in items]


def persistent_link(**options):
    settings = dict(address="127.0.0.1", hostname="proxy.test", port=5061,
                    keepalive_interval=30.0, pong_timeout=5.0,
                    backoff_base=2.0, backoff_max=16.0, rand_unit=lambda: 1.0)
    settings.update(options)
    return ProxyLink(**settings)


def test_modes_follow_design_rules():
    assert effective_mode("10.0.0.1", "proxy.test", "user") == "persistent"
    assert effective_mode(None, "proxy.test", "user") == "transaction"
    assert effective_mode("10.0.0.1", None, "user") == "transaction"
    assert effective_mode("10.0.0.1", "proxy.test", "transaction") == "transaction"
    assert effective_mode("10.0.0.1", "proxy.test", "none") == "none"


def test_persistent_opens_at_start_to_ip_with_hostname_as_sni():
    link = persistent_link()
    link.start(0.0)
    commands = link.commands()
    assert len(commands) == 1 and isinstance(commands[0], Connect)
    assert commands[0].host == "127.0.0.1" and commands[0].server_name == "proxy.test"
    link.connected(commands[0].conn_id, 0.1)
    events = link.events()
    assert isinstance(events[0], LinkUp) and not events[0].recovered


def test_persistent_connection_carries_every_request_and_survives_transactions():
    link = persistent_link()
    link.start(0.0)
    conn = link.commands()[0].conn_id
    link.send(b"REGISTER", 0.0)          # queued until the handshake completes
    assert link.commands() == []
    link.connected(conn, 0.05)
    writes = link.commands()
    assert kinds(writes) == ["Write"] and writes[0].data == b"REGISTER"
    for n in range(10):
        link.acquire(n, 1.0 + n)
        link.send(b"INVITE %d" % n, 1.0 + n)
        link.release(n, 1.5 + n)
    commands = link.commands()
    assert kinds(commands) == ["Write"] * 10
    assert all(c.conn_id == conn for c in commands)
    assert link.stats_connects == 1


def test_keepalive_ping_interval_is_randomised_and_pong_clears_deadline():
    link = persistent_link(rand_unit=lambda: 0.0)     # 80 % of the interval
    link.start(0.0)
    conn = link.commands()[0].conn_id
    link.connected(conn, 0.0)
    link.events()
    assert link.next_deadline() == 24.0
    link.on_timer(24.0)
    ping = link.commands()
    assert kinds(ping) == ["Write"] and ping[0].data == PING
    assert link.next_deadline() == 29.0               # the pong deadline comes first
    link.pong_received(conn, 24.01)
    assert link.next_deadline() == 48.0
    link.on_timer(48.0)
    assert link.commands()[0].data == PING


def test_missing_pong_closes_and_reconnects_at_once_then_backs_off():
    link = persistent_link()
    link.start(0.0)
    conn = link.commands()[0].conn_id
    link.connected(conn, 0.0)
    link.events()
    link.on_timer(30.0)
    link.commands()
    link.on_timer(35.0)                                # no pong within 5 s
    commands = link.commands()                         # closed, and re-opened at once
    assert kinds(commands) == ["Close", "Connect"] and commands[1].conn_id != conn
    down = link.events()
    assert isinstance(down[0], LinkDown) and down[0].reason == "keep-alive pong timeout"
    assert down[0].retry_at == 35.0
    link.failed(commands[1].conn_id, "refused", 35.1)       # second failure: back off
    assert link.events()[0].retry_at == 35.1 + 2.0
    link.commands()
    link.on_timer(37.1)
    third = link.commands()
    link.failed(third[-1].conn_id, "refused", 37.2)         # third failure: doubles
    assert link.events()[0].retry_at == 37.2 + 4.0
    link.on_timer(41.2)
    fourth = [c for c in link.commands() if isinstance(c, Connect)][0]
    link.connected(fourth.conn_id, 41.3)
    up = link.events()[0]
    assert isinstance(up, LinkUp) and up.recovered


def test_backoff_is_capped_at_the_maximum():
    link = persistent_link()
    link.start(0.0)
    now = 0.0
    waits = []
    for _ in range(8):
        conn = [c for c in link.commands() if isinstance(c, Connect)][0].conn_id
        link.failed(conn, "refused", now)
        retry_at = link.events()[0].retry_at
        waits.append(retry_at - now)
        now = retry_at
        link.on_timer(now)
    assert waits[:5] == [0.0, 2.0, 4.0, 8.0, 16.0]
    assert max(waits) == 16.0


def test_peer_ping_gets_a_pong():
    link = persistent_link()
    link.start(0.0)
    conn = link.commands()[0].conn_id
    link.connected(conn, 0.0)
    link.ping_received(conn, 1.0)
    assert [(type(c).__name__, c.data) for c in link.commands()] == [("Write", PONG)]


def test_transaction_mode_opens_per_transaction_and_closes_when_none_uses_it():
    link = ProxyLink(None, "proxy.test", 5061)
    link.start(0.0)
    assert link.commands() == []                      # nothing opened at start
    link.acquire("t1", 0.0)
    link.send(b"REGISTER", 0.0)
    connect = link.commands()
    assert kinds(connect) == ["Connect"] and connect[0].host == "proxy.test"
    link.connected(connect[0].conn_id, 0.1)
    assert kinds(link.commands()) == ["Write"]
    link.acquire("t2", 0.2)                           # a second transaction shares it
    link.send(b"INVITE", 0.2)
    assert kinds(link.commands()) == ["Write"]
    link.release("t1", 0.3)
    assert link.commands() == []
    link.release("t2", 0.4)
    assert kinds(link.commands()) == ["Close"]
    link.acquire("t3", 1.0)
    link.send(b"INVITE", 1.0)
    assert kinds(link.commands()) == ["Connect"]
    assert link.stats_connects == 2


def test_none_mode_opens_a_connection_per_request_and_closes_after_writing():
    link = ProxyLink("127.0.0.1", "proxy.test", 5061, persistence="none")
    link.send(b"A", 0.0)
    link.send(b"B", 0.0)
    first, second = link.commands()
    assert first.conn_id != second.conn_id
    link.connected(second.conn_id, 0.1)
    commands = link.commands()
    assert kinds(commands) == ["Write", "Close"] and commands[0].data == b"B"


def test_failure_with_queued_data_reports_undelivered():
    link = ProxyLink(None, "proxy.test", 5061)
    link.acquire("t1", 0.0)
    link.send(b"REGISTER", 0.0)
    conn = link.commands()[0].conn_id
    link.failed(conn, "certificate hostname mismatch", 0.2)
    events = link.events()
    assert isinstance(events[0], Undelivered) and events[0].count == 1
    assert events[0].reason == "certificate hostname mismatch"
    assert isinstance(events[1], LinkDown) and events[1].retry_at is None
    assert link.next_deadline() is None               # no retry outside persistent mode


def test_flow_timer_shortens_keepalive_interval():
    link = persistent_link()
    link.start(0.0)
    conn = link.commands()[0].conn_id
    link.connected(conn, 0.0)
    link.set_flow_timer(10, 1.0)
    assert link.next_deadline() == 11.0


def test_stop_closes_and_never_retries():
    link = persistent_link()
    link.start(0.0)
    conn = link.commands()[0].conn_id
    link.connected(conn, 0.0)
    link.stop(1.0)
    assert [isinstance(c, Close) for c in link.commands()] == [True]
    assert link.next_deadline() is None
    assert isinstance(Write(1, b""), Write)


def test_none_mode_keeps_a_request_connection_until_its_transaction_ends():
    link = ProxyLink("127.0.0.1", "proxy.test", 5061, persistence="none")
    link.acquire("t1", 0.0)
    link.send(b"REGISTER", 0.0)
    link.send(b"ACK", 0.0)                            # no transaction: close once written
    register, ack = link.commands()
    link.connected(register.conn_id, 0.1)
    link.connected(ack.conn_id, 0.1)
    commands = link.commands()
    assert [(type(c).__name__, c.conn_id) for c in commands] == [
        ("Write", register.conn_id), ("Write", ack.conn_id), ("Close", ack.conn_id)]
    link.release("t1", 0.2)                           # the response came: done with it
    assert [(type(c).__name__, c.conn_id) for c in link.commands()] == [
        ("Close", register.conn_id)]


def test_failures_count_until_a_registration_proves_the_flow():
    link = persistent_link()
    link.start(0.0)
    for now in (0.0, 1.0):                            # opens, then dies at once, twice
        conn = [c for c in link.commands() if isinstance(c, Connect)][0].conn_id
        link.connected(conn, now)
        link.failed(conn, "handshake failed", now)
        retry_at = [e for e in link.events() if isinstance(e, LinkDown)][0].retry_at
        link.on_timer(retry_at)
    assert retry_at == 1.0 + 2.0                      # the second failure backed off
    conn = [c for c in link.commands() if isinstance(c, Connect)][0].conn_id
    link.connected(conn, 3.0)
    link.registered(3.1)
    link.failed(conn, "reset", 50.0)
    assert [e for e in link.events() if isinstance(e, LinkDown)][0].retry_at == 50.0
