"""The user agent: the one sans-IO object the runtime drives.

Rule: messages, transport errors and time go in; transport commands and
events come out; nothing here does I/O, reads a clock or draws randomness
(``rand_token()`` is passed in and returns a fresh hex string).

The runtime's side::

    ua = UserAgent(config, rand_token)
    ua.start(now)                          # REGISTER when configured
    ua.receive(data_or_message, source, reliable, now)
    ua.transport_error(target, now)        # a Send to ``target`` failed
    ua.on_timer(now)                       # whenever now >= ua.next_deadline()
    for cmd in ua.commands(): ...          # Send / TransactionStarted / TransactionEnded
    for event in ua.events(): ...          # UaEvent (names: UaEvent.REGISTERED...)

``source`` is a target naming where the message came from: ``Flow(id)`` for a
connection, ``Datagram(host, port)`` (or a ``(host, port)`` tuple) for UDP.
Responses to a request go back to that source. Requests the phone originates
go to ``PROXY`` when an outbound proxy is configured, else to a datagram to
the first Route or the Request-URI.

What the stack answers by itself: retransmissions, 100 Trying, OPTIONS (200
with Allow, Accept, Supported), CANCEL (200, and 487 for the INVITE), 405
with Allow for methods it does not implement, 420 with Unsupported for an
unknown Require, 481 for requests outside any dialog or transaction, 482 for
merged requests, and the error response MessageError names for malformed
requests.
"""

from firmware.core.commands import PROXY, Datagram, Send, as_target
from firmware.core.dialog import dialog_key
from firmware.core.digest import DigestClient
from firmware.core.errors import MessageError, SipSyntaxError
from firmware.core.headers import parse_name_addr
from firmware.core.message import Request, make_response
from firmware.core.offeranswer import MediaSession
from firmware.core.parse import parse_message
from firmware.core.registration import Registration
from firmware.core.session import ALLOW
from firmware.core.session_uac import OutgoingSession
from firmware.core.session_uas import IncomingSession
from firmware.core.transaction import Timers
from firmware.core.txlayer import MAGIC_COOKIE, TransactionLayer
from firmware.core.uaconfig import UaConfig
from firmware.core.uri import parse_uri

ACCEPT = "application/sdp"


class UserAgent:
    def __init__(self, config, rand_token, now=0.0):
        if not isinstance(config, UaConfig):
            config = UaConfig.from_dict(config)
        self.config = config
        self.rand_token = rand_token
        self.now = now
        self._commands = []
        self._events = []
        self.layer = TransactionLayer(Timers(config.t1, config.t2, config.t4), self._commands)
        self.digest = DigestClient(config.user, config.password, rand_token,
                                   config.auth_user or None)
        self.registration = Registration(self)
        self.sessions = []
        self.dialogs = {}
        self.serial = 0
        self.supported = ["outbound"] if config.use_outbound else []

    def __repr__(self):
        return "UserAgent(%s, %d sessions)" % (self.config.aor, len(self.sessions))

    # -- the runtime's interface ---------------------------------------------------------

    def start(self, now):
        """Begin operating: register when the configuration asks for it."""
        self.now = now
        if self.config.register and self.config.user and self.config.domain:
            self.registration.start(now)

    def shutdown(self, now):
        """Hang up every call and remove the registration (un-REGISTER)."""
        self.now = now
        for session in list(self.sessions):
            session.hang_up(now)
        self.registration.stop(now)

    def receive(self, message, source, reliable, now):
        """One message from the transport: bytes (parsed with datagram rules),
        a parsed Request/Response, or the MessageError a stream framer raised."""
        self.now = now
        source = as_target(source)
        if isinstance(message, (bytes, bytearray)):
            try:
                message = parse_message(bytes(message))
            except MessageError as error:
                self._reject_malformed(error, source)
                return
        if isinstance(message, MessageError):
            self._reject_malformed(message, source)
            return
        if message.is_request:
            self._receive_request(message, source, reliable, now)
        else:
            self._receive_response(message, now)

    def transport_error(self, target, now):
        """Sending to ``target`` failed (connection refused, reset, TLS error)."""
        self.now = now
        self.layer.transport_error(as_target(target), now)

    def next_deadline(self):
        best = self.layer.next_deadline()
        for t in [self.registration.next_deadline()] + [s.next_deadline()
                                                          for s in self.sessions]:
            if t is not None and (best is None or t < best):
                best = t
        return best

    def on_timer(self, now):
        self.now = now
        self.layer.on_timer(now)
        self.registration.on_timer(now)
        for session in list(self.sessions):
            session.on_timer(now)

    def commands(self):
        """Drain the transport commands produced so far."""
        out = self._commands[:]
        del self._commands[:]
        return out

    def events(self):
        """Drain the events produced so far."""
        out = self._events
        self._events = []
        return out

    # -- the application's operations ------------------------------------------------------

    def register(self, now):
        """(Re-)register now, e.g. over a connection that was just re-opened."""
        self.now = now
        self.registration.start(now)

    def unregister(self, now):
        self.now = now
        self.registration.stop(now)

    def call(self, destination, now, origination=None):
        """Start an outgoing call; returns its OutgoingSession. ``destination``
        is a SIP URI or a user part (completed with the account's domain).
        Raises ValueError (SipSyntaxError) for a destination that is no URI."""
        self.now = now
        uri = self.complete_uri(destination)
        session = OutgoingSession(self, self._next_serial(), uri, origination)
        self.sessions.append(session)
        session.start(now)
        return session

    def complete_uri(self, text):
        text = text.strip()
        if ":" not in text or ("@" in text and text.find(":") > text.find("@")):
            if "@" not in text:
                text = "%s@%s" % (text, self.config.domain)
            text = "sip:" + text
        return parse_uri(text).serialize()

    # -- services for sessions and the registration ------------------------------------------

    def emit(self, event):
        self._events.append(event)

    def new_token(self):
        return self.rand_token()

    def new_call_id(self):
        return self.rand_token()

    def rand_unit(self):
        """A float in [0, 1) from the random source (back-off and glare timers)."""
        token = (self.rand_token() + "000000")[:6]
        return int(token, 16) / 16777216.0

    def new_media(self, serial):
        c = self.config
        port = c.rtp_port + 2 * ((serial - 1) % 100)
        return MediaSession(c.local_address, port, int(self.rand_token()[:7], 16), c.codecs)

    def contact(self, dialog_forming=False):
        """Our Contact value; ``ob`` marks dialogs through an RFC 5626 flow."""
        c = self.config
        uri = "sip:%s@%s:%d" % (c.user, _host(c.local_address), c.local_port)
        if c.has_proxy and c.proxy_transport != "udp":
            uri += ";transport=" + c.proxy_transport
        if dialog_forming and c.use_outbound:
            uri += ";ob"
        return "<%s>" % uri

    def add_capabilities(self, message):
        message.headers.add("Allow", ALLOW)
        if self.supported:
            message.headers.add("Supported", ", ".join(self.supported))

    def target_for(self, request):
        """(target, reliable) for a request the phone originates."""
        c = self.config
        if c.has_proxy:
            return PROXY, c.proxy_reliable
        routes = request.headers.get_all("Route")
        uri = parse_name_addr(routes[0]).uri if routes else parse_uri(request.uri)
        return Datagram(uri.host, uri.port or 5060), False

    def _via(self, target, branch):
        c = self.config
        transport = "UDP"
        if target is PROXY and c.proxy_reliable:
            transport = c.proxy_transport.upper()
        # sent-by is where this transport listens: a response can still reach
        # us there when the connection it should come back on is gone.
        port = c.local_udp_port if transport == "UDP" else c.local_port
        via = "SIP/2.0/%s %s:%d;branch=%s;rport" % (transport, _host(c.local_address), port,
                                                    branch)
        if transport == "TLS":
            via += ";alias"
        return via

    def proxy_route(self):
        """The outbound proxy as a loose route (RFC 3261 8.1.2), named by its
        hostname when there is one (the name its certificate is checked against)."""
        c = self.config
        host = _host(c.proxy_hostname or c.proxy_address)
        return "<sip:%s:%d;transport=%s;lr>" % (host, c.proxy_port, c.proxy_transport)

    def _route_to_proxy(self, request, target):
        # A request with an empty route set (out of dialog, or a dialog the
        # proxy did not record-route) names the proxy it goes through.
        if target is PROXY and "Route" not in request.headers:
            request.headers.insert_first("Route", self.proxy_route())

    def send_request(self, request, owner, now, target=None, reliable=False):
        """Start a client transaction for ``request`` (given without Via):
        a fresh branch, proactive credentials, the proxy or first hop."""
        if target is None:
            target, reliable = self.target_for(request)
        self._route_to_proxy(request, target)
        request.headers.insert_first("Via", self._via(target, MAGIC_COOKIE + self.rand_token()))
        if "User-Agent" not in request.headers and self.config.user_agent:
            request.headers.add("User-Agent", self.config.user_agent)
        if request.method not in ("ACK", "CANCEL"):
            self.digest.authorize(request)
        return self.layer.start_client(request, target, reliable, owner, now)

    def resend_with_auth(self, tx, response, now):
        """Answer a 401/407 challenge: the same request with the next CSeq,
        a new branch and credentials. None when retrying is pointless."""
        if not self.digest.handle_challenge(tx.request, response):
            return None
        old = tx.request
        request = Request(old.method, old.uri, old.headers.copy(), old.body)
        vias = request.headers.get_all("Via")
        request.headers.remove("Via")
        for via in vias[1:]:
            request.headers.add("Via", via)
        seq, method = old.cseq()
        request.headers.set("CSeq", "%d %s" % (seq + 1, method))
        return self.send_request(request, tx.owner, now, tx.target, tx.reliable)

    def send_ack(self, ack, now):
        """Send the ACK for a 2xx (its own transaction: a new branch, no timers)."""
        target, _ = self.target_for(ack)
        self._route_to_proxy(ack, target)
        ack.headers.insert_first("Via", self._via(target, MAGIC_COOKIE + self.rand_token()))
        self._commands.append(Send(target, ack))
        return target

    def resend(self, target, message):
        self._commands.append(Send(target, message))

    def send_cancel(self, invite_tx, owner, now):
        """CANCEL for a pending INVITE (RFC 3261 9.1): same Via branch, Route,
        Request-URI, Call-ID, From, To and CSeq number."""
        invite = invite_tx.request
        h = invite.headers
        cancel = Request("CANCEL", invite.uri)
        cancel.headers.add("Via", h.get_all("Via")[0])
        for route in h.get_all("Route"):
            cancel.headers.add("Route", route)
        cancel.headers.add("Max-Forwards", "70")
        for name in ("From", "To", "Call-ID"):
            cancel.headers.add(name, h.get(name))
        cancel.headers.add("CSeq", "%d CANCEL" % invite.cseq()[0])
        invite_tx.cancel_sent(now)
        return self.layer.start_client(cancel, invite_tx.target, invite_tx.reliable, owner,
                                       now)

    def respond(self, stx, status, now, reason=None, to_tag=None, headers=None, body=b""):
        """Build and send a response within server transaction ``stx``."""
        if to_tag is None and status > 100 and stx.request.to_addr().tag is None:
            to_tag = stx.to_tag or self.rand_token()
        response = make_response(stx.request, status, reason, to_tag)
        if headers:
            for name, value in headers:
                response.headers.add(name, value)
        if body:
            response.body = body
        stx.respond(response, now)
        return response

    def add_dialog(self, dialog, session):
        self.dialogs[dialog.key] = session

    def drop_dialog(self, dialog):
        if dialog is not None and self.dialogs.get(dialog.key) is not None:
            del self.dialogs[dialog.key]

    def session_ended(self, session):
        if session in self.sessions:
            self.sessions.remove(session)
        for key in [k for k in self.dialogs if self.dialogs[k] is session]:
            del self.dialogs[key]

    # The owner of transactions nobody else cares about (requests the UA
    # answers itself, requests sent on nobody's behalf).
    def on_server_failure(self, tx, reason, now):
        pass

    def on_response(self, tx, response, now):
        pass

    # -- incoming messages ----------------------------------------------------------

    def _next_serial(self):
        self.serial += 1
        return self.serial

    def _reject_malformed(self, error, source):
        response = error.response()
        if response is not None:
            self._commands.append(Send(source, response))

    def _receive_response(self, response, now):
        try:
            self._route_response(response, now)
        except SipSyntaxError:
            pass        # a header needed to use it is malformed: drop it (8.1.3.3)

    def _route_response(self, response, now):
        tx = self.layer.match_response(response)
        if tx is not None:
            tx.receive(response, now)
            return
        seq, method = response.cseq()
        if method == "INVITE" and 200 <= response.status < 300:
            # A 2xx retransmitted after the INVITE transaction ended: ACK again.
            call_id = response.call_id()
            for session in self.sessions:
                if session.call_id == call_id:
                    session.stray_2xx(response, now)
                    return

    def _receive_request(self, request, source, reliable, now):
        if request.method == "ACK":
            tx = self.layer.match_request(request)
            if tx is not None:
                tx.receive(request, now)
                return
            session = self.dialogs.get(self._incoming_key(request))
            if session is not None:
                session.receive_ack(request, now)
            return
        tx = self.layer.match_request(request)
        if tx is not None:
            tx.receive(request, now)
            return
        stx = self.layer.start_server(request, source, reliable, self, now)
        try:
            self._dispatch(stx, request, now)
        except SipSyntaxError as error:
            # A header the parser left for later (Contact, SDP-less Require...)
            # turned out malformed: the request cannot be served.
            if not stx.has_final:
                self.respond(stx, 400, now, "Bad Request - %s" % error)

    def _incoming_key(self, request):
        return dialog_key(request.call_id(), request.to_addr().tag, request.from_addr().tag)

    def _dispatch(self, stx, request, now):
        method = request.method
        if method == "CANCEL":
            self._receive_cancel(stx, request, now)
            return
        unsupported = [tag for tag in request.headers.get_all("Require")
                       if tag.strip() and tag.strip() not in self.supported]
        if unsupported:
            self.respond(stx, 420, now, headers=[("Unsupported", ", ".join(unsupported))])
            return
        if request.to_addr().tag is not None:
            session = self.dialogs.get(self._incoming_key(request))
            if session is None:
                self.respond(stx, 481, now)
            else:
                session.receive_request(stx, request, now)
            return
        if method == "INVITE":
            self._receive_invite(stx, request, now)
        elif method == "OPTIONS":
            self.respond_options(stx, now)
        elif method == "BYE":
            self.respond(stx, 481, now)
        else:
            self.respond(stx, 405, now, headers=[("Allow", ALLOW)])

    def respond_options(self, stx, now):
        headers = [("Allow", ALLOW), ("Accept", ACCEPT)]
        headers.append(("Supported", ", ".join(self.supported)))
        self.respond(stx, 200, now, headers=headers)

    def _receive_invite(self, stx, request, now):
        # A request that reached us twice by different paths (8.2.2.2).
        call_id = request.call_id()
        from_tag = request.from_addr().tag
        seq = request.cseq()[0]
        for session in self.sessions:
            if session.is_merged(call_id, from_tag, seq):
                self.respond(stx, 482, now)
                return
        session = IncomingSession(self, self._next_serial(), stx, request)
        if session.start(now):
            self.sessions.append(session)

    def _receive_cancel(self, stx, request, now):
        invite_tx = self.layer.find_invite(request)
        if invite_tx is None:
            self.respond(stx, 481, now)
            return
        self.respond(stx, 200, now, to_tag=invite_tx.to_tag)
        session = invite_tx.owner
        if not invite_tx.has_final and session is not self:
            session.cancelled(now)


def _host(address):
    """An address as a SIP host: IPv6 in brackets."""
    if ":" in address and not address.startswith("["):
        return "[" + address + "]"
    return address
