"""RFC 5626 keep-alives on the persistent connection, against a scripted proxy and Kamailio.

Rule: the phone answers a peer's double-CRLF ping with a single CRLF; it pings
at 80-100 % of the registrar's Flow-Timer when there is one (here 5 s while
the configured interval is 60 s); a proxy that stops answering (Kamailio
frozen with SIGSTOP) is declared dead within interval + pong timeout, and
once it runs again (SIGCONT) the phone re-opens its connection and registers.
The scripted proxy is a few lines of CPython ssl: a real TLS server with the
proxy certificate that answers REGISTER with 200 OK and a Flow-Timer.
"""

import signal
import socket
import ssl
import time

from phonetest import (LOCALHOST, KamailioPool, PhoneThread, certs, phone_config,
                       signal_kamailio)

__all__ = ["certs"]


class ScriptedProxy:
    """A TLS server playing outbound proxy and registrar for one phone connection."""

    def __init__(self, certs, flow_timer=None):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certs.pem("proxy"), certs.key("proxy"))
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind((LOCALHOST, 0))
        self.listener.listen(4)
        self.port = self.listener.getsockname()[1]
        self.context = context
        self.flow_timer = flow_timer
        self.conn = None
        self.buffer = b""
        self.log = []          # (time, what) for the assertion messages

    @property
    def tls_port(self):        # what phone_config() reads from a Kamailio
        return self.port

    def accept(self, timeout=5.0):
        self.listener.settimeout(timeout)
        raw, _ = self.listener.accept()
        self.conn = self.context.wrap_socket(raw, server_side=True)
        self.conn.settimeout(timeout)

    def read_message(self):
        """The next SIP message (a header block; the phone sends no REGISTER body)."""
        while b"\r\n\r\n" not in self.buffer.lstrip(b"\r\n"):
            self._fill()
        self.buffer = self.buffer.lstrip(b"\r\n")
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        text = head.decode()
        self.log.append((time.monotonic(), text.split("\r\n")[0]))
        return text

    def read_exactly(self, count):
        while len(self.buffer) < count:
            self._fill()
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def _fill(self):
        data = self.conn.recv(4096)
        if not data:
            raise AssertionError("the phone closed the connection; log %r" % self.log)
        self.buffer += data

    def answer_register(self, request):
        lines = request.split("\r\n")
        headers = [line for line in lines[1:]
                   if line.split(":")[0] in ("Via", "From", "Call-ID", "CSeq", "Contact")]
        to = [line for line in lines if line.startswith("To:")][0] + ";tag=scripted"
        reply = ["SIP/2.0 200 OK"] + headers + [to, "Expires: 600", "Require: outbound"]
        if self.flow_timer:
            reply.append("Flow-Timer: %d" % self.flow_timer)
        reply.append("Content-Length: 0")
        self.conn.sendall(("\r\n".join(reply) + "\r\n\r\n").encode())

    def close(self):
        for sock in (self.conn, self.listener):
            if sock is not None:
                sock.close()


def test_peer_ping_is_answered_and_flow_timer_paces_our_pings(tmp_path, certs):
    proxy = ScriptedProxy(certs, flow_timer=5)
    doc = phone_config(certs, proxy, keepalive={"interval_s": 60, "pong_timeout_s": 10})
    try:
        with PhoneThread(doc) as phone:
            proxy.accept()
            register = proxy.read_message()
            assert register.startswith("REGISTER "), register
            proxy.answer_register(register)
            answered_at = time.monotonic()
            phone.wait_event("REGISTERED", 5)
            # The proxy pings: the phone answers with exactly one CRLF.
            proxy.conn.sendall(b"\r\n\r\n")
            pong = proxy.read_exactly(2)
            # The phone pings at 80-100 % of the Flow-Timer (5 s), not of its 60 s.
            proxy.conn.settimeout(10)
            ping = proxy.read_exactly(4)
            pinged_at = time.monotonic()
            proxy.conn.sendall(b"\r\n")                      # our pong
            time.sleep(0.3)
            failures = phone.find("PROXY_DOWN")
    finally:
        proxy.close()
    assert pong == b"\r\n", pong
    assert ping == b"\r\n\r\n", ping
    waited = pinged_at - answered_at
    print("first ping %.3f s after the 200 OK carrying Flow-Timer: 5" % waited)
    assert 0.8 * 5 - 0.1 <= waited <= 5 + 1.0, waited
    assert failures == [], phone.describe()


def test_frozen_proxy_is_detected_by_missing_pong_and_recovered(tmp_path, certs):
    interval, pong_timeout = 5, 2
    with KamailioPool(tmp_path, certs) as pool:
        kam = pool.start(fix_contacts=False)
        doc = phone_config(certs, kam, keepalive={"interval_s": interval,
                                                  "pong_timeout_s": pong_timeout},
                           reconnect={"base_s": 0.5, "max_s": 1})
        with PhoneThread(doc) as phone:
            registered = phone.wait_event("REGISTERED", 5)
            stopped_at = time.monotonic()
            signal_kamailio(kam, signal.SIGSTOP)
            try:
                down = phone.wait_event("PROXY_DOWN", interval + pong_timeout + 2)
            finally:
                signal_kamailio(kam, signal.SIGCONT)
            continued_at = time.monotonic()
            recovered = phone.wait_event("PROXY_RECOVERED", 10)
            again = phone.wait_event("REGISTERED", 5)
            locations = kam.locations("alice")

    detected = down.time - stopped_at
    print("frozen proxy detected after %.3f s (interval %d s, pong timeout %d s); "
          "registered again %.3f s after SIGCONT" % (detected, interval, pong_timeout,
                                                     again.time - continued_at))
    assert down.field("reason") == "keep-alive pong timeout", down
    # A ping is due within `interval` of the last one, its pong within `pong_timeout`.
    assert detected <= interval + pong_timeout + 0.5, detected
    assert down.time - registered.time >= 0.8 * interval, phone.describe()
    assert recovered.field("conn") != down.field("conn")
    assert "sip:alice@127.0.0.1" in locations, locations
