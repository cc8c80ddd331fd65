"""Transactions and the transaction layer (RFC 3261 17, RFC 6026)."""

from firmware.core.commands import PROXY, Datagram, Send, TransactionEnded, TransactionStarted
from firmware.core.message import Request, make_response
from firmware.core.transaction import (ACCEPTED, COMPLETED, CONFIRMED, PROCEEDING,
                                       TERMINATED, Timers)
from firmware.core.txlayer import TransactionLayer


class Owner:
    """A transaction user that records what it is told."""

    def __init__(self):
        self.responses = []
        self.failures = []

    def on_response(self, tx, response, now):
        self.responses.append((now, response.status, tx.local_failure))

    def on_server_failure(self, tx, reason, now):
        self.failures.append((now, reason))


def request(method="OPTIONS", branch="z9hG4bKabc", sent_by="10.0.0.2:5060", cseq=1,
            to_tag=None, uri="sip:bob@example.test", from_tag="ft1"):
    req = Request(method, uri)
    h = req.headers
    h.add("Via", "SIP/2.0/UDP %s;branch=%s" % (sent_by, branch))
    h.add("Max-Forwards", "70")
    h.add("From", "<sip:alice@example.test>;tag=%s" % from_tag)
    h.add("To", "<sip:bob@example.test>" + (";tag=%s" % to_tag if to_tag else ""))
    h.add("Call-ID", "call-1")
    h.add("CSeq", "%d %s" % (cseq, "INVITE" if method == "ACK" else method))
    h.add("Contact", "<sip:alice@10.0.0.2>")
    if method == "ACK":
        h.set("CSeq", "%d ACK" % cseq)
    return req


def sends(layer, method=None):
    out = [c for c in layer.out if isinstance(c, Send)]
    if method is None:
        return out
    return [c for c in out if c.message.is_request and c.message.method == method]


def run(layer, until):
    """Fire every timer up to ``until``; returns the times they fired at."""
    fired = []
    while True:
        t = layer.next_deadline()
        if t is None or t > until:
            return fired
        fired.append(t)
        layer.on_timer(t)


class Out:
    """The layer's output list, noting the virtual time of each Send."""

    def __init__(self):
        self.items = []
        self.send_times = []
        self.clock = 0.0

    def append(self, item):
        if isinstance(item, Send):
            self.send_times.append(self.clock)
        self.items.append(item)

    def __iter__(self):
        return iter(self.items)


class TimedLayer(TransactionLayer):
    def __init__(self, timers):
        TransactionLayer.__init__(self, timers, Out())

    @property
    def send_times(self):
        return self.out.send_times

    def on_timer(self, now):
        self.out.clock = now
        TransactionLayer.on_timer(self, now)


def _timed_layer(timers):
    return TimedLayer(timers)


def test_non_invite_client_retransmission_schedule():
    layer = _timed_layer(Timers(t1=0.5, t2=4.0))
    owner = Owner()
    tx = layer.start_client(request(), Datagram("10.0.0.9", 5060), False, owner, 0.0)
    run(layer, 100.0)
    times = [round(t, 3) for t in layer.send_times]
    assert times[:7] == [0.0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5]
    assert times[-1] < 32.0
    assert owner.responses == [(32.0, 408, "timeout")]
    assert tx.state == TERMINATED and len(layer) == 0


def test_non_invite_client_on_reliable_transport_never_retransmits():
    layer = _timed_layer(Timers())
    owner = Owner()
    layer.start_client(request(), PROXY, True, owner, 0.0)
    run(layer, 100.0)
    assert len(layer.send_times) == 1
    assert owner.responses == [(32.0, 408, "timeout")]


def test_non_invite_client_final_response_and_timer_k():
    layer = TransactionLayer(Timers(t4=5.0))
    owner = Owner()
    req = request()
    tx = layer.start_client(req, Datagram("10.0.0.9", 5060), False, owner, 0.0)
    layer.match_response(make_response(req, 100)).receive(make_response(req, 100), 0.1)
    assert tx.state == PROCEEDING
    ok = make_response(req, 200, to_tag="x")
    layer.match_response(ok).receive(ok, 0.2)
    assert tx.state == COMPLETED
    # A retransmitted 200 is absorbed during timer K.
    layer.match_response(ok).receive(ok, 0.3)
    assert [r[1] for r in owner.responses] == [100, 200]
    run(layer, 10.0)
    assert tx.state == TERMINATED
    ended = [c for c in layer.out if isinstance(c, TransactionEnded)]
    assert len(ended) == 1 and ended[0].key == tx.key


def test_invite_client_timer_a_doubles_and_timer_b_gives_408():
    layer = _timed_layer(Timers(t1=0.5))
    owner = Owner()
    layer.start_client(request("INVITE"), Datagram("10.0.0.9", 5060), False, owner, 0.0)
    run(layer, 100.0)
    times = [round(t, 3) for t in layer.send_times]
    assert times == [0.0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    assert owner.responses == [(32.0, 408, "timeout")]


def test_invite_client_provisional_stops_retransmission():
    layer = _timed_layer(Timers())
    owner = Owner()
    req = request("INVITE")
    tx = layer.start_client(req, Datagram("10.0.0.9", 5060), False, owner, 0.0)
    run(layer, 0.6)
    tx.receive(make_response(req, 180, to_tag="t"), 0.7)
    run(layer, 200.0)
    assert len(layer.send_times) == 2
    assert tx.state == PROCEEDING
    assert owner.responses == [(0.7, 180, None)]


def test_invite_client_non_2xx_is_acked_by_the_transaction():
    layer = TransactionLayer(Timers())
    owner = Owner()
    req = request("INVITE")
    req.headers.add("Route", "<sip:proxy.example.test;lr>")
    tx = layer.start_client(req, PROXY, False, owner, 0.0)
    busy = make_response(req, 486, to_tag="callee")
    tx.receive(busy, 1.0)
    acks = sends(layer, "ACK")
    assert len(acks) == 1
    ack = acks[0].message
    assert ack.top_via().branch == "z9hG4bKabc"
    assert ack.cseq() == (1, "ACK")
    assert ack.to_addr().tag == "callee"
    assert ack.uri == req.uri
    assert ack.headers.get_all("Route") == ["<sip:proxy.example.test;lr>"]
    assert tx.state == COMPLETED
    tx.receive(busy, 2.0)                         # retransmitted final
    assert len(sends(layer, "ACK")) == 2
    assert owner.responses == [(1.0, 486, None)]
    run(layer, 1.0 + 31.9)
    assert tx.state == COMPLETED                  # timer D is 32 s on UDP
    run(layer, 40.0)
    assert tx.state == TERMINATED


def test_invite_client_2xx_goes_to_tu_including_retransmissions_and_forks():
    layer = TransactionLayer(Timers())
    owner = Owner()
    req = request("INVITE")
    tx = layer.start_client(req, PROXY, True, owner, 0.0)
    ok1 = make_response(req, 200, to_tag="fork1")
    ok2 = make_response(req, 200, to_tag="fork2")
    tx.receive(ok1, 1.0)
    assert tx.state == ACCEPTED
    tx.receive(ok1, 1.5)
    tx.receive(ok2, 1.6)
    tx.receive(make_response(req, 486, to_tag="fork3"), 1.7)   # ignored once accepted
    assert [r[1] for r in owner.responses] == [200, 200, 200]
    assert not sends(layer, "ACK")                # the TU ACKs a 2xx
    run(layer, 1.0 + 32.1)                        # timer M
    assert tx.state == TERMINATED


def test_invite_client_cancel_sent_caps_the_wait_for_a_final_response():
    layer = TransactionLayer(Timers())
    owner = Owner()
    req = request("INVITE")
    tx = layer.start_client(req, PROXY, True, owner, 0.0)
    tx.receive(make_response(req, 180, to_tag="t"), 0.5)
    assert layer.next_deadline() is None          # no timer in Proceeding
    tx.cancel_sent(10.0)
    run(layer, 100.0)
    assert owner.responses[-1] == (42.0, 408, "timeout")


def test_transport_error_becomes_503_for_the_client_and_failure_for_the_server():
    layer = TransactionLayer(Timers())
    owner = Owner()
    target = Datagram("10.0.0.9", 5060)
    layer.start_client(request(), target, False, owner, 0.0)
    layer.start_client(request(branch="z9hG4bKother"), PROXY, False, owner, 0.0)
    server_owner = Owner()
    layer.start_server(request("MESSAGE", branch="z9hG4bKsrv"), target, False, server_owner,
                       0.0)
    layer.transport_error(Datagram("10.0.0.9", 5060), 1.0)
    assert owner.responses == [(1.0, 503, "transport error")]
    assert server_owner.failures == [(1.0, "transport error")]
    assert len(layer) == 1


def test_started_and_ended_name_the_target():
    layer = TransactionLayer(Timers())
    owner = Owner()
    req = request()
    tx = layer.start_client(req, PROXY, True, owner, 0.0)
    tx.receive(make_response(req, 200, to_tag="x"), 0.1)
    started = [c for c in layer.out if isinstance(c, TransactionStarted)]
    ended = [c for c in layer.out if isinstance(c, TransactionEnded)]
    assert len(started) == 1 and started[0].target is PROXY
    assert len(ended) == 1 and ended[0].key == started[0].key     # timer K is 0 on TLS


def test_invite_server_sends_100_trying_after_200_ms_only_when_silent():
    layer = TransactionLayer(Timers())
    owner = Owner()
    src = Datagram("10.0.0.2", 5060)
    stx = layer.start_server(request("INVITE"), src, False, owner, 0.0)
    assert layer.next_deadline() == 0.2
    layer.on_timer(0.2)
    trying = [c.message for c in sends(layer)]
    assert [m.status for m in trying] == [100]
    assert stx.state == PROCEEDING

    layer2 = TransactionLayer(Timers())
    stx2 = layer2.start_server(request("INVITE", branch="z9hG4bKb2"), src, False, owner, 0.0)
    stx2.respond(make_response(stx2.request, 180, to_tag="me"), 0.1)
    layer2.on_timer(0.2)
    assert [c.message.status for c in sends(layer2)] == [180]


def test_invite_server_retransmits_error_until_ack_then_absorbs():
    layer = _timed_layer(Timers(t1=0.5, t2=4.0, t4=5.0))
    owner = Owner()
    inv = request("INVITE")
    stx = layer.start_server(inv, Datagram("10.0.0.2", 5060), False, owner, 0.0)
    stx.respond(make_response(inv, 180, to_tag="me"), 0.0)
    # A retransmitted INVITE gets the last provisional again.
    again = layer.match_request(request("INVITE"))
    assert again is stx
    again.receive(request("INVITE"), 0.1)
    stx.respond(make_response(inv, 486, to_tag="me"), 1.0)
    run(layer, 8.0)
    statuses = [c.message.status for c in sends(layer)]
    assert statuses[:3] == [180, 180, 486]
    times = [round(t, 3) for t in layer.send_times[3:]]
    assert times == [1.5, 2.5, 4.5]              # timer G: T1, 2T1, 4T1 ...
    ack = request("ACK", to_tag="me")
    assert layer.match_request(ack) is stx
    stx.receive(ack, 8.5)
    assert stx.state == CONFIRMED
    count = len(sends(layer))
    run(layer, 13.4)
    assert len(sends(layer)) == count             # no more retransmissions
    assert stx.state == CONFIRMED
    run(layer, 13.6)                              # timer I = T4
    assert stx.state == TERMINATED
    assert owner.failures == []


def test_invite_server_timer_h_reports_missing_ack():
    layer = TransactionLayer(Timers())
    owner = Owner()
    inv = request("INVITE")
    stx = layer.start_server(inv, Datagram("10.0.0.2", 5060), False, owner, 0.0)
    stx.respond(make_response(inv, 603, to_tag="me"), 0.0)
    run(layer, 100.0)
    assert owner.failures == [(32.0, "timeout")]
    assert stx.state == TERMINATED


def test_invite_server_2xx_accepted_absorbs_invite_and_passes_ack_to_tu():
    layer = TransactionLayer(Timers())
    owner = Owner()
    inv = request("INVITE")
    stx = layer.start_server(inv, Datagram("10.0.0.2", 5060), False, owner, 0.0)
    stx.respond(make_response(inv, 200, to_tag="me"), 0.0)
    assert stx.state == ACCEPTED
    stx.receive(request("INVITE"), 0.5)          # absorbed: the TU retransmits 2xx
    assert len(sends(layer)) == 1
    # An ACK with the INVITE's branch (a sloppy peer) still goes to the TU.
    assert layer.match_request(request("ACK", to_tag="me")) is None
    run(layer, 40.0)
    assert stx.state == TERMINATED


def test_non_invite_server_resends_final_and_ends_after_timer_j():
    layer = TransactionLayer(Timers())
    owner = Owner()
    req = request("OPTIONS")
    stx = layer.start_server(req, Datagram("10.0.0.2", 5060), False, owner, 0.0)
    stx.receive(req, 0.1)                         # nothing to resend yet
    assert sends(layer) == []
    stx.respond(make_response(req, 200, to_tag="me"), 0.2)
    layer.match_request(request("OPTIONS")).receive(req, 0.3)
    assert [c.message.status for c in sends(layer)] == [200, 200]
    run(layer, 0.2 + 31.9)
    assert stx.state == COMPLETED
    run(layer, 33.0)
    assert stx.state == TERMINATED


def test_server_matching_uses_branch_sent_by_and_method():
    layer = TransactionLayer(Timers())
    owner = Owner()
    inv = request("INVITE")
    stx = layer.start_server(inv, Datagram("10.0.0.2", 5060), False, owner, 0.0)
    assert layer.match_request(request("INVITE")) is stx
    assert layer.match_request(request("INVITE", sent_by="10.0.0.3:5060")) is None
    assert layer.match_request(request("INVITE", branch="z9hG4bKzzz")) is None
    assert layer.match_request(request("BYE")) is None          # same branch, other method
    cancel = request("CANCEL")
    assert layer.match_request(cancel) is None
    assert layer.find_invite(cancel) is stx


def test_client_matching_uses_branch_and_cseq_method():
    layer = TransactionLayer(Timers())
    owner = Owner()
    inv = request("INVITE")
    tx = layer.start_client(inv, PROXY, True, owner, 0.0)
    assert layer.match_response(make_response(inv, 180)) is tx
    cancel = request("CANCEL")                    # same branch as the INVITE
    assert layer.match_response(make_response(cancel, 200)) is None
    assert layer.match_response(make_response(request("INVITE", branch="z9hG4bKx"), 180)) is None


def test_rfc2543_requests_match_without_branch_cookie():
    layer = TransactionLayer(Timers())
    owner = Owner()
    inv = request("INVITE", branch="oldstyle1")
    stx = layer.start_server(inv, Datagram("10.0.0.2", 5060), False, owner, 0.0)
    assert layer.match_request(request("INVITE", branch="oldstyle1")) is stx
    assert layer.match_request(request("INVITE", branch="oldstyle1", cseq=2)) is None
    assert layer.match_request(request("INVITE", branch="oldstyle1", from_tag="zz")) is None
    stx.respond(make_response(inv, 486, to_tag="mine"), 0.1)
    assert layer.match_request(request("ACK", branch="oldstyle1", to_tag="mine")) is stx
    assert layer.match_request(request("ACK", branch="oldstyle1", to_tag="other")) is None
    assert layer.find_invite(request("CANCEL", branch="oldstyle1")) is stx
    stx.receive(request("ACK", branch="oldstyle1", to_tag="mine"), 0.2)
    assert stx.state == CONFIRMED
