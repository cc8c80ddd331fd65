"""When to open, keep, probe and close the TLS connection to the outbound proxy.

Rule (DESIGN.md, "The outbound-proxy connection rule"): with both the proxy's
IP address and its hostname configured and persistence ``user``, one
connection is opened at ``start`` and kept for everything, probed with RFC 5626
double-CRLF pings and re-opened with back-off when it fails. Otherwise a
connection exists only while someone uses it: ``transaction`` keeps it while
any transaction is open, ``none`` opens one per request and closes it when
that request's transaction ends (its response came back on it), or once it is
written when no transaction waits for an answer (an ACK). Rule 2 (only one of IP or hostname) caps ``user`` at
``transaction``: without both there is no persistent connection.

Sans-IO: the runtime feeds in what happened (``connected``, ``failed``,
``pong_received``...) with ``now``, and drains ``commands()`` (Connect, Write,
Close) and ``events()`` (LinkUp, LinkDown, Undelivered). Nothing here touches a
socket, a clock or a random source; ``rand_unit`` returns a float in [0, 1).
"""

PING = b"\r\n\r\n"
PONG = b"\r\n"

MODE_PERSISTENT = "persistent"
MODE_TRANSACTION = "transaction"
MODE_NONE = "none"


class Connect:
    """Open connection ``conn_id`` to ``host``:``port``; verify the certificate
    against ``server_name`` (also sent as SNI) or, when it is None, against
    ``host`` itself."""

    __slots__ = ("conn_id", "host", "port", "server_name")

    def __init__(self, conn_id, host, port, server_name):
        self.conn_id = conn_id
        self.host = host
        self.port = port
        self.server_name = server_name

    def __repr__(self):
        return "Connect(%d, %s:%d, sni=%s)" % (self.conn_id, self.host, self.port,
                                             self.server_name)


class Write:
    __slots__ = ("conn_id", "data")

    def __init__(self, conn_id, data):
        self.conn_id = conn_id
        self.data = data

    def __repr__(self):
        return "Write(%d, %d bytes)" % (self.conn_id, len(self.data))


class Close:
    """Close ``conn_id`` once everything written before it has been sent."""

    __slots__ = ("conn_id",)

    def __init__(self, conn_id):
        self.conn_id = conn_id

    def __repr__(self):
        return "Close(%d)" % self.conn_id


class LinkUp:
    """A proxy connection is usable. ``recovered``: it replaces a persistent
    connection that failed, so the registration must be refreshed over it."""

    __slots__ = ("conn_id", "recovered")

    def __init__(self, conn_id, recovered):
        self.conn_id = conn_id
        self.recovered = recovered

    def __repr__(self):
        return "LinkUp(%d, recovered=%s)" % (self.conn_id, self.recovered)


class LinkDown:
    """A proxy connection failed or could not be opened; ``retry_at`` is when
    the persistent connection will be tried again (None when not persistent)."""

    __slots__ = ("conn_id", "reason", "retry_at")

    def __init__(self, conn_id, reason, retry_at):
        self.conn_id = conn_id
        self.reason = reason
        self.retry_at = retry_at

    def __repr__(self):
        return "LinkDown(%d, %s, retry_at=%s)" % (self.conn_id, self.reason, self.retry_at)


class Undelivered:
    """Data queued for the proxy was dropped: the transactions that sent it
    must be told of a transport error (RFC 3261 8.1.3.1)."""

    __slots__ = ("count", "reason")

    def __init__(self, count, reason):
        self.count = count
        self.reason = reason

    def __repr__(self):
        return "Undelivered(%d, %s)" % (self.count, self.reason)


def effective_mode(address, hostname, persistence):
    """The mode DESIGN rules 1-3 give for this configuration."""
    if persistence == MODE_NONE:
        return MODE_NONE
    if persistence == MODE_TRANSACTION:
        return MODE_TRANSACTION
    if address and hostname:
        return MODE_PERSISTENT
    return MODE_TRANSACTION


class ProxyLink:
    """The connection(s) to the outbound proxy and the policy that governs them."""

    def __init__(self, address, hostname, port, persistence="user",
                 keepalive_interval=90.0, pong_timeout=10.0,
                 backoff_base=30.0, backoff_max=1800.0, rand_unit=None):
        if not address and not hostname:
            raise ValueError("the outbound proxy needs an address or a hostname")
        self.host = address or hostname
        self.port = port
        self.server_name = hostname
        self.mode = effective_mode(address, hostname, persistence)
        self.keepalive_interval = keepalive_interval
        self.pong_timeout = pong_timeout
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._rand = rand_unit or (lambda: 1.0)
        self._commands = []
        self._events = []
        self._next_id = 1
        self.conn_id = None        # the current shared connection
        self.is_up = False
        self._queue = []           # data waiting for the connection to come up
        self._users = []           # keys of transactions (or users) holding it open
        self._own_conns = {}       # none: transaction key -> the connection of its request
        self._next_key = None      # none: the transaction whose request is sent next
        self._failures = 0         # consecutive failures of the persistent connection
        self._had_link = False
        self._retry_at = None
        self._ping_at = None
        self._pong_deadline = None
        self._started = False
        self.stats_connects = 0

    # -- what the owner asks for -------------------------------------------------

    def start(self, now):
        """Phone start: the persistent connection is opened at once."""
        self._started = True
        if self.mode == MODE_PERSISTENT:
            self._open(now)

    def stop(self, now):
        """Phone shutdown: close everything, retry nothing."""
        self._started = False
        self._retry_at = self._ping_at = self._pong_deadline = None
        if self.conn_id is not None:
            self._commands.append(Close(self.conn_id))
        for key in self._own_conns:
            self._commands.append(Close(self._own_conns[key]))
        self._own_conns = {}
        self.conn_id = None
        self.is_up = False

    def acquire(self, key, now):
        """A transaction to the proxy starts and will use the connection."""
        if self.mode == MODE_NONE:
            self._next_key = key          # its request, sent next, gets a connection
            return
        if key not in self._users:
            self._users.append(key)

    def release(self, key, now):
        """A transaction ended; in transaction mode the last one closes it."""
        if self.mode == MODE_NONE:
            conn_id = self._own_conns.pop(key, None)
            if conn_id is not None:
                self._commands.append(Close(conn_id))
                self._queue = [(c, d) for c, d in self._queue if c != conn_id]
            return
        if key in self._users:
            self._users.remove(key)
        if self.mode == MODE_TRANSACTION and not self._users and self.conn_id is not None:
            self._commands.append(Close(self.conn_id))
            self._forget_connection()

    def send(self, data, now):
        """Send ``data`` (one serialized SIP message) to the proxy."""
        if self.mode == MODE_NONE:
            conn_id = self._new_connection()
            if self._next_key is not None:
                self._own_conns[self._next_key] = conn_id
                self._next_key = None
            self._queue.append((conn_id, data))
            return
        if self.conn_id is None:
            if self.mode == MODE_PERSISTENT and self._retry_at is not None:
                # Waiting out a back-off: an outgoing request is a reason to try now.
                self._retry_at = None
            self._open(now)
        if self.is_up:
            self._commands.append(Write(self.conn_id, data))
        else:
            self._queue.append((self.conn_id, data))

    # -- what the runtime reports -------------------------------------------------

    def connected(self, conn_id, now):
        if self.mode == MODE_NONE:
            # Kept for the responses while its transaction runs (a reply written
            # to a connection we already closed would be lost).
            waiting = conn_id in self._own_conns.values()
            self._flush(conn_id, close_after=not waiting)
            return
        if conn_id != self.conn_id:
            return
        self.is_up = True
        recovered = self.mode == MODE_PERSISTENT and self._had_link
        self._had_link = True
        # The failure count is not reset here: a connection that opens and dies
        # at once (a TLS 1.3 server refusing our certificate after the handshake)
        # must back off too. ``registered`` or a pong proves the flow and resets it.
        self._events.append(LinkUp(conn_id, recovered))
        self._flush(conn_id, close_after=False)
        if self.mode == MODE_PERSISTENT:
            self._schedule_ping(now)

    def failed(self, conn_id, reason, now):
        """The connection could not be opened, or broke (reset, TLS error, pong
        timeout, a REGISTER that timed out over it)."""
        if self.mode == MODE_NONE:
            for key in [k for k in self._own_conns if self._own_conns[k] == conn_id]:
                del self._own_conns[key]
            dropped = [d for c, d in self._queue if c == conn_id]
            self._queue = [(c, d) for c, d in self._queue if c != conn_id]
            if dropped:
                self._events.append(Undelivered(len(dropped), reason))
            self._events.append(LinkDown(conn_id, reason, None))
            return
        if conn_id != self.conn_id:
            return
        self._commands.append(Close(conn_id))
        self._forget_connection()
        if self._queue:
            self._events.append(Undelivered(len(self._queue), reason))
            self._queue = []
        retry_at = None
        if self.mode == MODE_PERSISTENT and self._started:
            self._failures += 1
            retry_at = now if self._failures == 1 else now + self._backoff()
            self._retry_at = retry_at
        self._events.append(LinkDown(conn_id, reason, retry_at))

    def closed_by_peer(self, conn_id, now):
        self.failed(conn_id, "closed by peer", now)

    def pong_received(self, conn_id, now):
        if conn_id == self.conn_id:
            self._pong_deadline = None
            self._failures = 0

    def registered(self, now):
        """A REGISTER succeeded over the current connection: the flow works, so
        the next failure is retried at once again (RFC 5626 4.5)."""
        if self.is_up:
            self._failures = 0

    def ping_received(self, conn_id, now):
        """RFC 5626 3.5.1: a double-CRLF ping is answered with a CRLF pong."""
        self._commands.append(Write(conn_id, PONG))

    def set_flow_timer(self, seconds, now):
        """The registrar's Flow-Timer: send keep-alives often enough for it."""
        if seconds and seconds > 0:
            self.keepalive_interval = float(seconds)
            if self.is_up and self.mode == MODE_PERSISTENT:
                self._schedule_ping(now)

    # -- timers --------------------------------------------------------------------

    def next_deadline(self):
        best = None
        for t in (self._retry_at, self._ping_at, self._pong_deadline):
            if t is not None and (best is None or t < best):
                best = t
        return best

    def on_timer(self, now):
        if self._pong_deadline is not None and now >= self._pong_deadline:
            self._pong_deadline = None
            self.failed(self.conn_id, "keep-alive pong timeout", now)
        if self._ping_at is not None and now >= self._ping_at and self.is_up:
            self._commands.append(Write(self.conn_id, PING))
            self._pong_deadline = now + self.pong_timeout
            self._schedule_ping(now)
        if self._retry_at is not None and now >= self._retry_at:
            self._retry_at = None
            if self.conn_id is None and self._started:
                self._open(now)

    # -- output --------------------------------------------------------------------

    def commands(self):
        out = self._commands
        self._commands = []
        return out

    def events(self):
        out = self._events
        self._events = []
        return out

    # -- internals -----------------------------------------------------------------

    def _new_connection(self):
        conn_id = self._next_id
        self._next_id += 1
        self.stats_connects += 1
        self._commands.append(Connect(conn_id, self.host, self.port, self.server_name))
        return conn_id

    def _open(self, now):
        self.conn_id = self._new_connection()
        self.is_up = False

    def _forget_connection(self):
        self.conn_id = None
        self.is_up = False
        self._ping_at = None
        self._pong_deadline = None

    def _flush(self, conn_id, close_after):
        keep = []
        for target, data in self._queue:
            if target == conn_id:
                self._commands.append(Write(conn_id, data))
            else:
                keep.append((target, data))
        self._queue = keep
        if close_after:
            self._commands.append(Close(conn_id))

    def _schedule_ping(self, now):
        # RFC 5626 4.4.1: between 80 % and 100 % of the interval, so that many
        # phones behind one proxy do not ping in lock-step.
        self._ping_at = now + self.keepalive_interval * (0.8 + 0.2 * self._rand())

    def _backoff(self):
        # RFC 5626 4.5: min(max, base * 2^n), then 50-100 % of that; n counts the
        # failures after the immediate first retry.
        wait = self.backoff_base
        for _ in range(self._failures - 2):
            wait *= 2
            if wait >= self.backoff_max:
                break
        wait = min(wait, self.backoff_max)
        return wait * (0.5 + 0.5 * self._rand())
