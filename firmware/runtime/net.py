"""Sockets for the phone: TLS/TCP streams and a UDP endpoint, on asyncio.

Rule: this module moves bytes and reports what happened; it decides nothing.
Every stream socket gets TCP_NODELAY (a SIP request is one write, and Nagle
plus delayed ACK would hold it back by tens of milliseconds). Stream bytes go
through the core's ``StreamFramer``; what comes out (a message, a keep-alive
ping or pong, a framing error) and every connect, failure and close is handed
to ``sink(kind, conn, value)``. Only asyncio features MicroPython also has are
used (open_connection, start_server, StreamReader.read, a polled UDP socket).
"""

import asyncio
import socket

from firmware import compat
from firmware.core.framing import KeepAlivePing, KeepAlivePong, StreamFramer
from firmware.core.errors import MessageError
from firmware.runtime.tls import REASON_TIMEOUT, classify_error

READ_CHUNK = 16384
UDP_POLL_S = 0.005

# Kinds of report given to the sink.
CONNECTED = "connected"
FAILED = "failed"
CLOSED = "closed"
MESSAGE = "message"
PING = "ping"
PONG = "pong"
DATAGRAM = "datagram"


def set_nodelay(writer):
    """TCP_NODELAY on the socket under an asyncio stream writer."""
    sock = None
    if hasattr(writer, "get_extra_info"):
        sock = writer.get_extra_info("socket")
    if sock is None:
        return False
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return True
    except (OSError, AttributeError):
        return False


class StreamConn:
    """One TCP or TLS connection, outbound (we opened it) or inbound."""

    def __init__(self, conn_id, outbound, peer, secure):
        self.conn_id = conn_id
        self.outbound = outbound
        self.peer = peer
        self.secure = secure
        self.reader = None
        self.writer = None
        self.framer = StreamFramer()
        self.open = False
        self.nodelay = False
        self._task = None

    def __repr__(self):
        return "StreamConn(%d, %s, %s)" % (self.conn_id,
                                          "out" if self.outbound else "in", self.peer)

    def attach(self, reader, writer):
        self.reader = reader
        self.writer = writer
        self.nodelay = set_nodelay(writer)
        self.open = True

    def write(self, data):
        if not self.open:
            return False
        self.writer.write(data)
        return True

    async def drain(self):
        if self.open:
            await self.writer.drain()

    def close(self):
        if self.writer is not None and self.open:
            self.open = False
            try:
                self.writer.close()
            except OSError:
                pass
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def read_loop(self, sink):
        reason = "closed by peer"
        try:
            while self.open:
                data = await self.reader.read(READ_CHUNK)
                if not data:
                    break
                self.framer.feed(data)
                if not self._drain_framer(sink):
                    reason = "framing error"
                    break
        except asyncio.CancelledError:
            return
        except Exception as exc:  # noqa: BLE001 - any socket or TLS error ends the connection
            reason = classify_error(exc)
        if self.open:
            self.open = False
            try:
                self.writer.close()
            except OSError:
                pass
            sink(CLOSED, self, reason)

    def _drain_framer(self, sink):
        while True:
            try:
                event = self.framer.next_event()
            except MessageError as error:
                # The user agent answers it (400, 413...) when it can; only a
                # framing error makes the rest of the stream unreadable.
                sink(MESSAGE, self, error)
                if getattr(error, "fatal", True):
                    sink(FAILED, self, "framing error: %s" % error)
                    return False
                continue
            if event is None:
                return True
            if isinstance(event, KeepAlivePing):
                sink(PING, self, None)
            elif isinstance(event, KeepAlivePong):
                sink(PONG, self, None)
            else:
                sink(MESSAGE, self, event)

    def start_reading(self, sink):
        self._task = asyncio.create_task(self.read_loop(sink))


async def open_stream(conn, host, port, ssl_context, server_name, timeout, sink):
    """Connect ``conn``; report CONNECTED or FAILED (with a DESIGN rule 5 reason)."""
    try:
        if ssl_context is not None:
            opening = asyncio.open_connection(host, port, ssl=ssl_context,
                                              server_hostname=server_name or host)
        else:
            opening = asyncio.open_connection(host, port)
        reader, writer = await asyncio.wait_for(opening, timeout)
    except asyncio.CancelledError:
        raise
    except asyncio.TimeoutError:
        sink(FAILED, conn, REASON_TIMEOUT)
        return
    except Exception as exc:  # noqa: BLE001 - every failure is reported, none is fatal
        sink(FAILED, conn, classify_error(exc))
        return
    conn.attach(reader, writer)
    sink(CONNECTED, conn, None)
    conn.start_reading(sink)


def route_address(host, port, wildcard):
    """The local address the system would use to reach ``host`` (no packet is
    sent: connecting a UDP socket only consults the routing table)."""
    family = socket.AF_INET6 if wildcard == "::" else socket.AF_INET
    probe = socket.socket(family, socket.SOCK_DGRAM)
    try:
        probe.connect(socket.getaddrinfo(host, port)[0][-1])
        return probe.getsockname()[0]  # layercheck: ignore[mpy-method] wildcard listening is for CPython hosts
    except OSError:
        return "127.0.0.1" if family == socket.AF_INET else "::1"
    finally:
        probe.close()


class UdpEndpoint:
    """A non-blocking UDP socket, polled: MicroPython has no datagram endpoints."""

    def __init__(self, address, port):
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        self.sock.bind(socket.getaddrinfo(address, port)[0][-1])
        self.port = port
        if port == 0:
            self.port = self.sock.getsockname()[1]  # layercheck: ignore[mpy-method] port 0 is for tests on CPython
        self._task = None

    def sendto(self, data, host, port):
        try:
            self.sock.sendto(data, socket.getaddrinfo(host, port)[0][-1])
            return True
        except OSError:
            return False

    async def receive_loop(self, sink):
        loop = asyncio.get_event_loop()
        recvfrom = getattr(loop, "sock_recvfrom", None)
        while True:
            try:
                if recvfrom is not None:
                    data, addr = await recvfrom(self.sock, 65535)
                else:
                    try:
                        data, addr = self.sock.recvfrom(65535)
                    except OSError:
                        await asyncio.sleep(UDP_POLL_S)
                        continue
            except asyncio.CancelledError:
                return
            except OSError:
                continue
            host, port = compat.host_port(addr)
            sink(DATAGRAM, None, (data, host, port))

    def start(self, sink):
        self._task = asyncio.create_task(self.receive_loop(sink))

    def close(self):
        if self._task is not None:
            self._task.cancel()
        self.sock.close()


async def serve_streams(address, port, ssl_context, accept):
    """Listen for TCP/TLS connections; ``accept(reader, writer)`` adopts each one.
    Returns the server object (its sockets tell the bound port)."""

    async def handle(reader, writer):
        accept(reader, writer)

    return await asyncio.start_server(handle, address, port, ssl=ssl_context)
