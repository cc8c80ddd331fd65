"""Where the SIP core sends messages, and what it tells the transport.

Rule: the core never opens a socket or picks a connection. It names a
*target* and the runtime makes it real:

- ``PROXY``: the connection to the outbound proxy, whatever the runtime makes
  of it (one persistent TLS connection, one per transaction, or datagrams);
- ``Datagram(host, port)``: a UDP datagram to that address;
- ``Flow(flow_id)``: back on the connection a request came in on.

Outputs are plain objects drained by the runtime: ``Send(target, message)``
(the runtime calls ``message.serialize()``), and ``TransactionStarted`` /
``TransactionEnded`` so the connection policy keeps a connection open only
while some transaction uses it. Transport feedback goes the other way as
calls on the user agent (``receive``, ``transport_error``). What the
application hears is a ``UaEvent``, whose names are its class attributes.
"""


class _ProxyTarget:
    """The outbound proxy connection (a singleton: compare with ``is``)."""

    __slots__ = ()

    def key(self):
        return ("proxy",)

    def __eq__(self, other):
        return isinstance(other, _ProxyTarget)

    def __hash__(self):
        return hash(self.key())

    def __repr__(self):
        return "PROXY"


PROXY = _ProxyTarget()


class Datagram:
    """A UDP datagram to ``host``:``port`` (IPv6 hosts with brackets)."""

    __slots__ = ("host", "port")

    def __init__(self, host, port):
        self.host = host
        self.port = port

    def key(self):
        return ("datagram", self.host, self.port)

    def __eq__(self, other):
        return isinstance(other, Datagram) and self.key() == other.key()

    def __hash__(self):
        return hash(self.key())

    def __repr__(self):
        return "Datagram(%s:%s)" % (self.host, self.port)


class Flow:
    """An existing connection, by the runtime's id for it."""

    __slots__ = ("flow_id",)

    def __init__(self, flow_id):
        self.flow_id = flow_id

    def key(self):
        return ("flow", self.flow_id)

    def __eq__(self, other):
        return isinstance(other, Flow) and self.flow_id == other.flow_id

    def __hash__(self):
        return hash(self.key())

    def __repr__(self):
        return "Flow(%s)" % (self.flow_id,)


def as_target(source):
    """A target from what the runtime passes as a message's source: a target
    object already, or a ``(host, port)`` pair meaning a datagram peer."""
    if isinstance(source, tuple):
        return Datagram(source[0], source[1])
    return source


def same_target(a, b):
    return a is not None and b is not None and a.key() == b.key()


class Send:
    """Send ``message`` (a Request or Response) to ``target``."""

    __slots__ = ("target", "message")

    def __init__(self, target, message):
        self.target = target
        self.message = message

    def __repr__(self):
        msg = self.message
        if msg.is_request:
            what = msg.method
        else:
            what = "%d %s" % (msg.status, msg.cseq()[1])
        return "Send(%r, %s)" % (self.target, what)


class TransactionStarted:
    """A transaction keyed ``key`` now uses ``target``."""

    __slots__ = ("key", "target")

    def __init__(self, key, target):
        self.key = key
        self.target = target

    def __repr__(self):
        return "TransactionStarted(%s, %r)" % (self.key, self.target)


class TransactionEnded:
    """The transaction keyed ``key`` no longer uses ``target``."""

    __slots__ = ("key", "target")

    def __init__(self, key, target):
        self.key = key
        self.target = target

    def __repr__(self):
        return "TransactionEnded(%s, %r)" % (self.key, self.target)


class UaEvent:
    """Something the user agent reports to the application.

    An event is a name plus a few plain fields; it carries no password and no
    reference the application could use to bypass the user agent, except the
    ``session`` it is about (whose public methods are the call operations).
    ``str(event)`` gives one line, ``name key=value ...``, listing fields set.
    """

    # Registration.
    REGISTERING = "registering"      # first REGISTER (or a retry after a failure) sent
    REGISTERED = "registered"        # 2xx; ``expires`` is what the registrar granted
    REFRESHING = "refreshing"        # refresh REGISTER sent before expiry
    REG_FAILED = "reg_failed"        # ``status`` and ``cause``; a retry is scheduled
    UNREGISTERED = "unregistered"    # un-REGISTER done (or given up)

    # INVITE sessions.
    INCOMING = "incoming"            # a new call was offered to us
    PROGRESS = "progress"            # 1xx to our INVITE: ``status`` 100/180/183...
    EARLY_MEDIA = "early_media"      # an early dialog answered our offer: ``media``
    CONNECTED = "connected"          # ACK sent (caller) or received (callee)
    DISCONNECTED = "disconnected"    # the far end hung up, cancelled, or the dialog died
    ENDED = "ended"                  # our own hang-up / reject / cancel completed
    FAILED = "failed"                # our INVITE got a final error (``status``, ``cause``)
    MEDIA = "media"                  # a re-INVITE (either way) changed the media
    UPDATE_FAILED = "update_failed"  # our re-INVITE (hold/resume) was refused

    __slots__ = ("name", "session", "status", "cause", "expires", "media")

    def __init__(self, name, session=None, status=None, cause=None, expires=None,
                 media=None):
        self.name = name
        self.session = session
        self.status = status
        self.cause = cause
        self.expires = expires
        self.media = media

    def __repr__(self):
        parts = [self.name]
        if self.session is not None:
            parts.append("session=%s" % self.session.serial)
        if self.status is not None:
            parts.append("status=%d" % self.status)
        if self.cause is not None:
            parts.append("cause=%s" % self.cause)
        if self.expires is not None:
            parts.append("expires=%s" % self.expires)
        return " ".join(parts)

    __str__ = __repr__
