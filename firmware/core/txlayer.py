"""The transaction layer: creates, matches, times and forgets transactions.

Rule: matching follows RFC 3261 17.1.3 (responses: top Via branch and CSeq
method) and 17.2.3 (requests: branch, sent-by and method, with ACK matching
its INVITE; the RFC 2543 fallback compares Request-URI, tags, Call-ID, CSeq
and top Via when the branch lacks the ``z9hG4bK`` cookie). Every transaction
that starts or ends is announced to the transport with TransactionStarted /
TransactionEnded, so a connection can be kept exactly while it is in use.
"""

from firmware.core.commands import TransactionEnded, TransactionStarted, same_target
from firmware.core.transaction import (ACCEPTED, ClientTransaction, ServerTransaction,
                                       Timers)

MAGIC_COOKIE = "z9hG4bK"


def _via_sent_by(via):
    if via.port is None:
        return via.host.lower()
    return "%s:%d" % (via.host.lower(), via.port)


def client_key(branch, method):
    return "c %s %s" % (branch, method)


def _server_method(method):
    return "INVITE" if method == "ACK" else method


class TransactionLayer:
    """All live transactions of one user agent; commands go to ``out``."""

    __slots__ = ("timers", "out", "clients", "servers", "legacy")

    def __init__(self, timers=None, out=None):
        self.timers = timers or Timers()
        self.out = out if out is not None else []
        self.clients = {}
        self.servers = {}
        self.legacy = []          # RFC 2543 server transactions, matched by scan

    # -- creation --------------------------------------------------------------

    def start_client(self, request, target, reliable, owner, now):
        """Send ``request`` (its top Via already carries a fresh branch)."""
        branch = request.top_via().branch
        tx = ClientTransaction(self, client_key(branch, request.method), request,
                               target, reliable, owner)
        self.clients[tx.key] = tx
        self.out.append(TransactionStarted(tx.key, target))
        tx.start(now)
        return tx

    def start_server(self, request, target, reliable, owner, now):
        """A new request that matched no transaction; ``target`` is where the
        responses go (the flow it came on, or the datagram source)."""
        key = self._server_key(request)
        if key is None:
            key = "s2543 %s %s %d" % (request.call_id(), request.method,
                                      request.cseq()[0])
        tx = ServerTransaction(self, key, request, target, reliable, owner)
        if key.startswith("s2543 "):
            self.legacy.append(tx)
        else:
            self.servers[key] = tx
        self.out.append(TransactionStarted(tx.key, target))
        tx.start(now)
        return tx

    def remove(self, tx):
        if tx.is_client:
            found = self.clients.pop(tx.key, None) is not None
        elif tx in self.legacy:
            self.legacy.remove(tx)
            found = True
        else:
            found = self.servers.pop(tx.key, None) is not None
        if found:
            self.out.append(TransactionEnded(tx.key, tx.target))

    # -- matching --------------------------------------------------------------

    def match_response(self, response):
        """The client transaction a response belongs to (17.1.3), or None."""
        vias = response.vias()
        if not vias or vias[0].branch is None:
            return None
        return self.clients.get(client_key(vias[0].branch, response.cseq()[1]))

    def match_request(self, request):
        """The server transaction a retransmission or an ACK to a non-2xx
        final belongs to (17.2.3), or None. An ACK that matches an INVITE
        transaction which sent a 2xx goes to the TU: None."""
        key = self._server_key(request)
        if key is not None:
            tx = self.servers.get(key)
        else:
            tx = self._match_legacy(request, request.method)
        if tx is not None and request.method == "ACK" and tx.state == ACCEPTED:
            return None
        return tx

    def find_invite(self, cancel):
        """The INVITE server transaction a CANCEL names (RFC 3261 9.2)."""
        key = self._server_key(cancel, "INVITE")
        if key is not None:
            return self.servers.get(key)
        return self._match_legacy(cancel, "INVITE")

    def _server_key(self, request, method=None):
        vias = request.vias()
        if not vias:
            return None
        via = vias[0]
        branch = via.branch
        if branch is None or not branch.startswith(MAGIC_COOKIE):
            return None
        method = _server_method(method or request.method)
        return "s %s %s %s" % (branch, _via_sent_by(via), method)

    def _match_legacy(self, request, method):
        h = request.headers
        top_via = h.get_all("Via")[0].strip()
        from_tag = request.from_addr().tag
        to_tag = request.to_addr().tag
        call_id = request.call_id()
        cseq = request.cseq()[0]
        want = _server_method(method)
        for tx in self.legacy:
            orig = tx.request
            if orig.method != want or orig.call_id() != call_id:
                continue
            if orig.cseq()[0] != cseq or orig.uri != request.uri:
                continue
            if orig.from_addr().tag != from_tag:
                continue
            if orig.headers.get_all("Via")[0].strip() != top_via:
                continue
            if request.method == "ACK":
                if to_tag != tx.to_tag:
                    continue
            elif request.method != "CANCEL" and to_tag != orig.to_addr().tag:
                continue
            return tx
        return None

    # -- transport feedback and time ------------------------------------------------

    def transport_error(self, target, now):
        """Every transaction sending to ``target`` learns of the failure."""
        for tx in self._all():
            if same_target(tx.target, target):
                tx.transport_error(now)

    def next_deadline(self):
        best = None
        for tx in self._all():
            t = tx.next_deadline()
            if t is not None and (best is None or t < best):
                best = t
        return best

    def on_timer(self, now):
        # A late call may owe several firings (a retransmission and a timeout);
        # each firing moves that transaction's deadline forward.
        for _ in range(64):
            due = [tx for tx in self._all()
                   if tx.next_deadline() is not None and tx.next_deadline() <= now]
            if not due:
                return
            for tx in due:
                tx.on_timer(now)

    def _all(self):
        return list(self.clients.values()) + list(self.servers.values()) + self.legacy

    def __len__(self):
        return len(self.clients) + len(self.servers) + len(self.legacy)
