"""RFC 3261 section 17 transactions, with the RFC 6026 Accepted state.

Rule: a transaction owns retransmission and timeouts of one request and its
responses, and nothing else. It sends through its layer's output list (Send
commands to its target), retransmits only on unreliable transports, and tells
its owner (the transaction user) what happened through two calls:

- ``owner.on_response(tx, response, now)`` for a client transaction: every
  response the TU must see, including every 2xx to an INVITE (the TU sends
  the ACK for a 2xx). A timeout or a transport error arrives as a locally
  made 408 / 503 response with ``tx.local_failure`` set to "timeout" or
  "transport error" (RFC 3261 8.1.3.1);
- ``owner.on_server_failure(tx, reason, now)`` for a server transaction that
  could not deliver its response (transport error) or never got the ACK for
  a non-2xx final response (timer H).

Timers (seconds): A/E/G start at T1 and double (E and G up to T2); B, F, H,
L and M are 64*T1; D is 32 s, I and K are T4, J is 64*T1, each 0 on reliable
transports. An INVITE server transaction sends 100 Trying itself when the TU
has sent no provisional response 200 ms after the INVITE arrived.
"""

from firmware.core.commands import Send
from firmware.core.message import Request, make_response

CALLING = "calling"
TRYING = "trying"
PROCEEDING = "proceeding"
COMPLETED = "completed"
CONFIRMED = "confirmed"
ACCEPTED = "accepted"
TERMINATED = "terminated"

TIMEOUT = "timeout"
TRANSPORT_ERROR = "transport error"


class Timers:
    """T1, T2, T4 and the 100 Trying delay, in seconds."""

    __slots__ = ("t1", "t2", "t4", "trying")

    def __init__(self, t1=0.5, t2=4.0, t4=5.0, trying=0.2):
        self.t1 = t1
        self.t2 = t2
        self.t4 = t4
        self.trying = trying


class Transaction:
    """What client and server transactions share: identity, target, timers."""

    __slots__ = ("layer", "key", "request", "target", "reliable", "owner", "state",
                 "retransmit_at", "interval", "timeout_at", "end_at", "local_failure")

    is_client = False

    def __init__(self, layer, key, request, target, reliable, owner):
        self.layer = layer
        self.key = key
        self.request = request
        self.target = target
        self.reliable = reliable
        self.owner = owner
        self.state = None
        self.retransmit_at = None
        self.interval = 0.0
        self.timeout_at = None
        self.end_at = None
        self.local_failure = None

    @property
    def method(self):
        return self.request.method

    @property
    def timers(self):
        return self.layer.timers

    def next_deadline(self):
        best = None
        for t in (self.retransmit_at, self.timeout_at, self.end_at):
            if t is not None and (best is None or t < best):
                best = t
        return best

    def _send(self, message):
        self.layer.out.append(Send(self.target, message))

    def _start_retransmit(self, now, interval):
        if self.reliable:
            self.retransmit_at = None
        else:
            self.interval = interval
            self.retransmit_at = now + interval

    def _linger(self, now, unreliable_wait):
        """Enter a state that only absorbs retransmissions for a while."""
        self.retransmit_at = None
        self.timeout_at = None
        wait = 0.0 if self.reliable else unreliable_wait
        if wait <= 0.0:
            self.terminate()
        else:
            self.end_at = now + wait

    def terminate(self):
        if self.state != TERMINATED:
            self.state = TERMINATED
            self.retransmit_at = self.timeout_at = self.end_at = None
            self.layer.remove(self)

    def on_timer(self, now):
        if self.end_at is not None and now >= self.end_at:
            self.terminate()
            return
        if self.timeout_at is not None and now >= self.timeout_at:
            self.timeout_at = None
            self._timed_out(now)
            return
        if self.retransmit_at is not None and now >= self.retransmit_at:
            self._retransmit(now)

    def _timed_out(self, now):
        self.terminate()

    def _retransmit(self, now):
        self.retransmit_at = None

    def transport_error(self, now):
        self.terminate()


class ClientTransaction(Transaction):
    """INVITE (17.1.1) and non-INVITE (17.1.2) client transactions."""

    __slots__ = ("ack",)

    is_client = True

    def __init__(self, layer, key, request, target, reliable, owner):
        Transaction.__init__(self, layer, key, request, target, reliable, owner)
        self.ack = None

    @property
    def is_invite(self):
        return self.request.method == "INVITE"

    def start(self, now):
        t = self.timers
        self.state = CALLING if self.is_invite else TRYING
        self._send(self.request)
        self._start_retransmit(now, t.t1)
        self.timeout_at = now + 64 * t.t1

    def _retransmit(self, now):
        t = self.timers
        if self.state == CALLING:
            interval = self.interval * 2
        elif self.state in (TRYING, PROCEEDING) and not self.is_invite:
            interval = min(self.interval * 2, t.t2) if self.state == TRYING else t.t2
        else:
            self.retransmit_at = None
            return
        self._send(self.request)
        self.interval = interval
        self.retransmit_at = now + interval

    def cancel_sent(self, now):
        """A CANCEL went out for this INVITE: if no final response comes within
        64*T1 the INVITE counts as cancelled (RFC 3261 9.1)."""
        if self.state in (CALLING, PROCEEDING):
            deadline = now + 64 * self.timers.t1
            if self.timeout_at is None or self.timeout_at > deadline:
                self.timeout_at = deadline

    def receive(self, response, now):
        status = response.status
        state = self.state
        if self.is_invite:
            self._receive_invite(response, status, state, now)
        else:
            self._receive_non_invite(response, status, state, now)

    def _receive_invite(self, response, status, state, now):
        t = self.timers
        if state in (CALLING, PROCEEDING):
            if status < 200:
                self.state = PROCEEDING
                self.retransmit_at = None
                # Timer B guards only the Calling state; a CANCEL re-arms it.
                if state == CALLING:
                    self.timeout_at = None
                self.owner.on_response(self, response, now)
            elif status < 300:
                self.state = ACCEPTED
                self.retransmit_at = None
                self.timeout_at = None
                self.end_at = now + 64 * t.t1      # timer M
                self.owner.on_response(self, response, now)
            else:
                self.state = COMPLETED
                self.ack = build_ack(self.request, response)
                self._send(self.ack)
                self.owner.on_response(self, response, now)
                self._linger(now, max(32.0, 64 * t.t1))   # timer D
        elif state == ACCEPTED:
            if 200 <= status < 300:
                self.owner.on_response(self, response, now)
        elif state == COMPLETED:
            if status >= 300 and self.ack is not None:
                self._send(self.ack)

    def _receive_non_invite(self, response, status, state, now):
        if state not in (TRYING, PROCEEDING):
            return
        if status < 200:
            self.state = PROCEEDING
            self.owner.on_response(self, response, now)
            return
        self.state = COMPLETED
        self.owner.on_response(self, response, now)
        if self.state == COMPLETED:
            self._linger(now, self.timers.t4)

    def _timed_out(self, now):
        if self.state in (CALLING, TRYING, PROCEEDING):
            self._fail(TIMEOUT, 408, now)
        else:
            self.terminate()

    def transport_error(self, now):
        if self.state in (CALLING, TRYING, PROCEEDING):
            self._fail(TRANSPORT_ERROR, 503, now)
        else:
            self.terminate()

    def _fail(self, reason, status, now):
        self.local_failure = reason
        self.terminate()
        response = make_response(self.request, status)
        self.owner.on_response(self, response, now)


class ServerTransaction(Transaction):
    """INVITE (17.2.1) and non-INVITE (17.2.2) server transactions."""

    __slots__ = ("last_response", "trying_at", "to_tag", "cancelled")

    def __init__(self, layer, key, request, target, reliable, owner):
        Transaction.__init__(self, layer, key, request, target, reliable, owner)
        self.last_response = None
        self.trying_at = None
        self.to_tag = None
        self.cancelled = False

    @property
    def is_invite(self):
        return self.request.method == "INVITE"

    @property
    def has_final(self):
        return self.state in (COMPLETED, CONFIRMED, ACCEPTED, TERMINATED)

    def start(self, now):
        t = self.timers
        if self.is_invite:
            # A phone may ring for minutes: the TU decides when this one ends.
            self.state = PROCEEDING
            self.trying_at = now + t.trying
        else:
            self.state = TRYING
            # A TU that never answers must not keep the transaction forever.
            self.timeout_at = now + 64 * t.t1

    def next_deadline(self):
        best = Transaction.next_deadline(self)
        if self.trying_at is not None and (best is None or self.trying_at < best):
            best = self.trying_at
        return best

    def on_timer(self, now):
        if self.trying_at is not None and now >= self.trying_at:
            self.trying_at = None
            if self.state == PROCEEDING and self.last_response is None:
                self.respond(make_response(self.request, 100), now)
        Transaction.on_timer(self, now)

    def respond(self, response, now):
        """Send ``response`` (made by the TU) within this transaction."""
        status = response.status
        state = self.state
        if state == TERMINATED:
            return
        if self.to_tag is None:
            self.to_tag = response.to_addr().tag
        if self.is_invite:
            self._respond_invite(response, status, state, now)
        else:
            self._respond_non_invite(response, status, state, now)

    def _respond_invite(self, response, status, state, now):
        t = self.timers
        if state == ACCEPTED:
            if 200 <= status < 300:
                self._send(response)     # the TU's 2xx retransmissions (RFC 6026)
            return
        if state != PROCEEDING:
            return
        self.trying_at = None
        self.last_response = response
        self._send(response)
        if status < 200:
            return
        self.timeout_at = None
        if status < 300:
            self.state = ACCEPTED
            self.end_at = now + 64 * t.t1     # timer L
        else:
            self.state = COMPLETED
            self._start_retransmit(now, t.t1)  # timer G
            self.timeout_at = now + 64 * t.t1  # timer H

    def _respond_non_invite(self, response, status, state, now):
        if state not in (TRYING, PROCEEDING):
            return
        self.last_response = response
        self._send(response)
        if status < 200:
            self.state = PROCEEDING
            return
        self.state = COMPLETED
        self._linger(now, 64 * self.timers.t1)   # timer J

    def receive(self, request, now):
        """A retransmission of the request, or the ACK for a non-2xx final."""
        if request.method == "ACK":
            if self.state == COMPLETED:
                self.state = CONFIRMED
                self._linger(now, self.timers.t4)   # timer I
            return
        if self.state in (PROCEEDING, COMPLETED) and self.last_response is not None:
            self._send(self.last_response)

    def _retransmit(self, now):
        if self.state != COMPLETED or self.last_response is None:
            self.retransmit_at = None
            return
        self._send(self.last_response)
        self.interval = min(self.interval * 2, self.timers.t2)
        self.retransmit_at = now + self.interval

    def _timed_out(self, now):
        state = self.state
        self.terminate()
        if state == COMPLETED and self.is_invite:
            self.owner.on_server_failure(self, TIMEOUT, now)

    def transport_error(self, now):
        self.local_failure = TRANSPORT_ERROR
        self.terminate()
        self.owner.on_server_failure(self, TRANSPORT_ERROR, now)


def build_ack(request, response):
    """The ACK for a non-2xx final response to ``request`` (RFC 3261 17.1.1.3)."""
    ack = Request("ACK", request.uri)
    h = request.headers
    ack.headers.add("Via", h.get_all("Via")[0])
    for route in h.get_all("Route"):
        ack.headers.add("Route", route)
    ack.headers.add("Max-Forwards", "70")
    ack.headers.add("From", h.get("From"))
    ack.headers.add("To", response.headers.get("To"))
    ack.headers.add("Call-ID", h.get("Call-ID"))
    ack.headers.add("CSeq", "%d ACK" % request.cseq()[0])
    for name in ("Authorization", "Proxy-Authorization"):
        for value in h.get_all(name):
            ack.headers.add(name, value)
    return ack
