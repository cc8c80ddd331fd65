"""A running phone: the sans-IO user agent and proxy-link policy on real sockets.

Rule: this is the only place where the core's commands become I/O and I/O
becomes calls on the core. One loop owns everything: it takes what the
sockets reported (an inbox filled by ``net``), feeds the core with ``now``,
executes the commands that come out, reports events, and sleeps until the
earliest deadline or the next report. Nothing else calls into the core, so
there are no locks and no races.
"""

import asyncio
import binascii

from firmware import compat
from firmware.app.callcontrol import CallControl
from firmware.core.commands import PROXY, Datagram, Flow, Send, TransactionEnded, \
    TransactionStarted
from firmware.core.connpolicy import MODE_NONE, MODE_PERSISTENT, PONG, Close, Connect, \
    LinkDown, LinkUp, ProxyLink, Undelivered, Write
from firmware.core.errors import MessageError
from firmware.core.uaconfig import UaConfig
from firmware.core.useragent import UserAgent
from firmware.runtime import net
from firmware.runtime.tls import client_context, server_context

CONNECT_TIMEOUT_S = 5.0
INBOUND_IDS_START = 1000000     # inbound connection ids never collide with the link's


def rand_token():
    return compat.random_token(8)


def rand_unit():
    return int.from_bytes(compat.urandom(4), "big") / 4294967296.0


def new_instance_id(device_id=None, aor=""):
    """An RFC 5626 instance id as a UUID URN (RFC 4122). With a ``device_id``
    (the board's machine id) it is name-based (version 5) and so the same at
    every start, as RFC 5626 4.1 asks; without one it is random (version 4)."""
    if device_id:
        raw = bytearray(binascii.unhexlify(compat.hexdigest("sha1", device_id + "|" + aor))[:16])
        version = 0x50
    else:
        raw = bytearray(compat.urandom(16))
        version = 0x40
    raw[6] = (raw[6] & 0x0F) | version
    raw[8] = (raw[8] & 0x3F) | 0x80
    text = "".join("%02x" % b for b in raw)
    return "urn:uuid:%s-%s-%s-%s-%s" % (text[:8], text[8:12], text[12:16], text[16:20],
                                        text[20:])


class PhoneEvent:
    """One line of the phone's log: ``name`` and a ``details`` string."""

    __slots__ = ("time", "name", "details", "call")

    def __init__(self, time, name, details="", call=None):
        self.time = time
        self.name = name
        self.details = details
        self.call = call

    def __str__(self):
        return ("%s %s" % (self.name, self.details)).strip()


class Phone:
    """Wire a validated ``Config`` to sockets and run it until ``stop()``."""

    def __init__(self, config, on_event=None, on_sip=None, clock=None, keylog_file=None,
                 device_id=None):
        self.config = config
        self.clock = clock or compat.monotonic
        self.on_event = on_event or (lambda event: None)
        self.on_sip = on_sip
        self.keylog_file = keylog_file
        proxy = config.outbound_proxy
        self.stream_proxy = proxy.transport in ("tls", "tcp")
        self.link = None
        if self.stream_proxy:
            self.link = ProxyLink(proxy.address, proxy.hostname, proxy.port, proxy.persistence,
                                  config.keepalive.interval_s, config.keepalive.pong_timeout_s,
                                  config.reconnect.base_s, config.reconnect.max_s, rand_unit)
        ua_config = UaConfig.from_dict(config)
        # RFC 5626 outbound (reg-id, +sip.instance, ;ob) asks the proxy to reach
        # us over our own connection: only true of the persistent one. Without
        # it the proxy reaches us at our TLS server port (DESIGN rules 2 and 4).
        ua_config.use_outbound = bool(ua_config.use_outbound and self.link is not None
                                      and self.link.mode == MODE_PERSISTENT)
        if ua_config.use_outbound and not ua_config.instance_id:
            ua_config.instance_id = new_instance_id(device_id, ua_config.aor)
        self.ua = UserAgent(ua_config, rand_token)
        self.calls = CallControl(self.ua)
        self.conns = {}
        self.udp = None
        self.server = None
        self.tls_client = None
        self._inbox = []
        self._wake = asyncio.Event()
        self._stopping = False
        self._stopped = asyncio.Event()
        self._next_inbound = INBOUND_IDS_START
        self._opening = []         # connect tasks, cancelled if still running at close
        self.started = False
        self.media = None          # runtime.media.Media: told every call event, closed last
        self.handset = None        # runtime.handset.HandsetRuntime: told every call event
        self.stats = {"handshakes": 0, "inbound_connections": 0, "proxy_connects": 0,
                      "proxy_closes": 0, "proxy_failures": 0}

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self):
        config = self.config
        now = self.clock()
        if config.outbound_proxy.transport == "tls":
            tls = config.tls
            self.tls_client = client_context(tls.ca_file, tls.cert_file, tls.key_file,
                                             self.keylog_file)
        listen = config.listen
        if listen.address in ("0.0.0.0", "::"):
            # Via, Contact and SDP need an address peers can reach; 0.0.0.0 in SDP
            # would even mean "hold".
            proxy = config.outbound_proxy
            self.ua.config.local_address = net.route_address(
                proxy.address or proxy.hostname or config.account.domain, proxy.port,
                listen.address)
        if listen.udp_port:
            self.udp = net.UdpEndpoint(listen.address, listen.udp_port)
            self.udp.start(self._report)
            self.ua.config.local_udp_port = self.udp.port    # the real one when 0 was asked
        if listen.tls_port and listen.tls_cert_file:
            context = server_context(listen.tls_cert_file, listen.tls_key_file,
                                     config.tls.ca_file, self.keylog_file)
            self.server = await net.serve_streams(listen.address, listen.tls_port, context,
                                                  self._accept)
        if self.link is not None:
            self.link.start(now)
        self.ua.start(now)
        self._pump(now)
        self.started = True

    def stop(self):
        """Ask the loop to un-register and finish."""
        self._stopping = True
        self._wake.set()

    async def run(self, grace_s=2.0):
        """Run until ``stop()``; then un-register (waiting up to ``grace_s``) and close."""
        await self.start()
        while not self._stopping:
            await self._step()
        now = self.clock()
        self.calls.shutdown(now)
        self._pump(now)
        deadline = now + grace_s
        while self.clock() < deadline and self.ua.registration.state == "unregistering":
            await self._step(max_wait=deadline - self.clock())
        self.close()

    def close(self):
        now = self.clock()
        if self.link is not None:
            self.link.stop(now)
            self._execute_link(now)
        for task in self._opening:
            if not task.done():
                task.cancel()
        self._opening = []
        for conn in list(self.conns.values()):
            conn.close()
        self.conns = {}
        if self.udp is not None:
            self.udp.close()
        if self.server is not None:
            self.server.close()
        if self.handset is not None:
            self.handset.close()
        if self.media is not None:
            self.media.close()
        self._stopped.set()

    # -- the loop ------------------------------------------------------------------------

    async def _step(self, max_wait=None):
        now = self.clock()
        deadline = self._next_deadline()
        timeout = None if deadline is None else max(0.0, deadline - now)
        if max_wait is not None:
            timeout = max_wait if timeout is None else min(timeout, max_wait)
        if not self._inbox and (timeout is None or timeout > 0):
            self._wake.clear()
            try:
                if timeout is None:
                    await self._wake.wait()
                else:
                    await asyncio.wait_for(self._wake.wait(), timeout)
            except asyncio.TimeoutError:
                pass
        now = self.clock()
        inbox, self._inbox = self._inbox, []
        for kind, conn, value in inbox:
            self._handle_report(kind, conn, value, now)
        deadline = self._next_deadline()
        if deadline is not None and now >= deadline:
            self.ua.on_timer(now)
            if self.link is not None:
                self.link.on_timer(now)
        self._pump(now)

    def poke(self):
        """Run the loop soon: the application called into ``calls``."""
        self._wake.set()

    def _next_deadline(self):
        best = self.ua.next_deadline()
        if self.link is not None:
            other = self.link.next_deadline()
            if other is not None and (best is None or other < best):
                best = other
        return best

    def _report(self, kind, conn, value):
        self._inbox.append((kind, conn, value))
        self._wake.set()

    def _accept(self, reader, writer):
        conn_id = self._next_inbound
        self._next_inbound += 1
        peer = writer.get_extra_info("peername") if hasattr(writer, "get_extra_info") else None
        conn = net.StreamConn(conn_id, False, peer, True)
        conn.attach(reader, writer)
        self.conns[conn_id] = conn
        self.stats["inbound_connections"] += 1
        self._event("CONNECTION_IN", "conn=%d peer=%s" % (conn_id, _peer_text(peer)))
        conn.start_reading(self._report)

    def _handle_report(self, kind, conn, value, now):
        link = self.link
        outbound = conn is not None and conn.outbound
        if kind == net.DATAGRAM:
            data, host, port = value
            self._log_sip("<", "%s:%d" % (host, port), data)
            self._deliver(data, Datagram(host, port), False, now)
        elif kind == net.MESSAGE:
            if not isinstance(value, MessageError):
                self._log_sip("<", _peer_text(conn.peer), value)
            self._deliver(value, Flow(conn.conn_id), True, now)
            self._pump(now)     # answer before a framing error closes the stream
        elif kind == net.CONNECTED:
            self.stats["handshakes"] += 1
            if self.conns.get(conn.conn_id) is not conn:
                conn.close()        # the policy gave it up while it was being opened
                return
            self._event("CONNECTED_PROXY", "conn=%d" % conn.conn_id)
            link.connected(conn.conn_id, now)
        elif kind in (net.FAILED, net.CLOSED):
            self.conns.pop(conn.conn_id, None)
            conn.close()
            if outbound:
                # Opening failed, or TLS itself failed later (a TLS 1.3 server
                # checks our certificate after the handshake has completed).
                if (kind == net.FAILED and value in _TLS_REASONS) or value in _TLS_ERRORS:
                    self._event("TLSFAIL", "conn=%d reason=%s" % (conn.conn_id, _quote(value)))
                link.failed(conn.conn_id, value, now)
            else:
                self._event("CONNECTION_CLOSED", "conn=%d reason=%s" % (conn.conn_id,
                                                                        _quote(value)))
        elif kind == net.PING:
            if outbound:
                link.ping_received(conn.conn_id, now)
            else:
                conn.write(PONG)
        elif kind == net.PONG and outbound:
            link.pong_received(conn.conn_id, now)

    def _deliver(self, message, source, reliable, now):
        """Hand one message to the user agent. A bug the message provokes costs
        that message, never the phone: it is reported and the loop goes on."""
        try:
            self.ua.receive(message, source, reliable, now)
        except Exception as error:  # noqa: BLE001 - the phone must keep running
            self._event("INTERNAL_ERROR", "while handling a message from %r: %s: %s"
                        % (source, type(error).__name__, error))

    def _pump(self, now):
        """Execute what the core asked for until it asks for nothing more."""
        for _ in range(100):
            busy = False
            for command in self.ua.commands():
                busy = True
                self._execute_ua(command, now)
            if self.link is not None:
                busy = self._execute_link(now) or busy
                for event in self.link.events():
                    busy = True
                    self._link_event(event, now)
            for event in self.calls.events():
                # The application may act from its event handler (release a
                # dropped call...): one more round drains what that produced.
                busy = True
                self._call_event(event, now)
            if not busy:
                return

    def _execute_ua(self, command, now):
        if isinstance(command, Send):
            data = command.message.serialize()
            target = command.target
            if target == PROXY:
                proxy = self.config.outbound_proxy
                if self.link is not None:
                    self._log_sip(">", "proxy", data)
                    self.link.send(data, now)
                else:
                    self._send_datagram(data, proxy.address or proxy.hostname, proxy.port, now)
            elif isinstance(target, Datagram):
                self._send_datagram(data, target.host.strip("[]"), target.port, now)
            elif isinstance(target, Flow):
                conn = self.conns.get(target.flow_id)
                if conn is None or not conn.write(data):
                    self.ua.transport_error(target, now)
                else:
                    self._log_sip(">", _peer_text(conn.peer), data)
        elif isinstance(command, TransactionStarted):
            if command.target == PROXY and self.link is not None:
                self.link.acquire(command.key, now)
        elif isinstance(command, TransactionEnded):
            if command.target == PROXY and self.link is not None:
                self.link.release(command.key, now)

    def _send_datagram(self, data, host, port, now):
        self._log_sip(">", "%s:%d" % (host, port), data)
        if self.udp is None or not self.udp.sendto(data, host, port):
            self.ua.transport_error(Datagram(host, port), now)

    def _execute_link(self, now):
        commands = self.link.commands()
        for command in commands:
            if isinstance(command, Connect):
                conn = net.StreamConn(command.conn_id, True,
                                      (command.host, command.port), self.tls_client is not None)
                self.conns[command.conn_id] = conn
                self.stats["proxy_connects"] += 1
                task = asyncio.create_task(net.open_stream(
                    conn, command.host, command.port, self.tls_client, command.server_name,
                    CONNECT_TIMEOUT_S, self._report))
                self._opening = [t for t in self._opening if not t.done()] + [task]
            elif isinstance(command, Write):
                conn = self.conns.get(command.conn_id)
                if conn is not None:
                    conn.write(command.data)
            elif isinstance(command, Close):
                conn = self.conns.pop(command.conn_id, None)
                if conn is not None:
                    self.stats["proxy_closes"] += 1
                    if conn.open:
                        self._event("PROXY_CLOSED", "conn=%d" % command.conn_id)
                    conn.close()
        return bool(commands)

    def _link_event(self, event, now):
        if isinstance(event, LinkUp):
            # Up and down may come in one batch: a connection already gone has
            # nothing to re-register over.
            if event.recovered and self.link.is_up and self.link.conn_id == event.conn_id:
                self._event("PROXY_RECOVERED", "conn=%d" % event.conn_id)
                self.ua.register(now)
        elif isinstance(event, LinkDown):
            self.stats["proxy_failures"] += 1
            retry = "" if event.retry_at is None else " retry_in=%.3f" % (event.retry_at - now)
            calls = [str(c.number) for c in self.calls.calls if c.state not in ("NULL", "IDLE")]
            self._event("PROXY_DOWN", "conn=%d reason=%s%s calls=%s" % (
                event.conn_id, _quote(event.reason), retry, ",".join(calls) or "none"))
            if self.link.mode != MODE_NONE:
                # Requests in flight went over the connection that failed: their
                # responses cannot come back on it (RFC 3261 8.1.3.1). Calls set
                # up keep their dialogs; their next request uses the new connection.
                self.ua.transport_error(PROXY, now)
        elif isinstance(event, Undelivered):
            self.ua.transport_error(PROXY, now)

    def _call_event(self, event, now):
        """Report a call-control event; act on what concerns the proxy link."""
        self._event(event.name, _details(event), event.call)
        if self.media is not None:
            self.media.call_event(event, now)
        if self.handset is not None:
            self.handset.call_event(event, now)
        link = self.link
        if link is None or link.mode != MODE_PERSISTENT:
            return
        if event.name == "REGISTERED":
            link.registered(now)
            # RFC 5626 4.4.1: the registrar's Flow-Timer sets the keep-alive pace.
            link.set_flow_timer(self.ua.registration.flow_timer, now)
        elif event.name == "REGFAIL" and event.cause == "timeout" and link.conn_id is not None:
            # RFC 5626 4.4: a REGISTER that timed out means the flow is dead.
            link.failed(link.conn_id, "REGISTER timed out", now)

    # -- output ----------------------------------------------------------------------------

    def _event(self, name, details="", call=None):
        self.on_event(PhoneEvent(self.clock(), name, details, call))

    def _log_sip(self, direction, peer, data):
        if self.on_sip is not None:
            if not isinstance(data, (bytes, bytearray)):
                data = data.serialize()
            self.on_sip(direction, peer, bytes(data))


_TLS_ERRORS = ("untrusted", "hostname mismatch", "expired", "handshake failed")
_TLS_REASONS = _TLS_ERRORS + ("refused", "timed out", "reset")


def _quote(text):
    text = str(text)
    return '"%s"' % text if " " in text else text


def _peer_text(peer):
    if not peer:
        return "?"
    return "%s:%s" % (peer[0], peer[1])


def _details(event):
    text = str(event)
    return text[len(event.name):].strip()
