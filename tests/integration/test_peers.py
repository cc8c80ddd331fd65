"""Integration tests of the real-peer harness: Kamailio over TLS, sipp over UDP, tshark.

Rule: the test plays the phone with CPython's ssl module (CA and hostname
verified) and hand-written SIP, so what it shows is what the real proxy does:
digest registration, the 407 on INVITE, calls to a sipp UAS, incoming calls
delivered on the phone's own TLS connection, CRLF keep-alive pongs, counted
ClientHellos, restart and reconnect. A missing kamailio, sipp or tshark fails
the test with the hint to run `make setup`.
"""

import hashlib
import os
import re
import secrets
import select
import socket
import ssl

import pytest

from tools.peers import (
    CertSet, Kamailio, PeerError, PeerMissing, Sipp, TlsHandshakeCounter, free_port, make_certs,
    require_program,
)

DOMAIN = "example.test"
HOSTNAME = "proxy.test"
USERS = {"alice": "secret", "bob": "hunter2"}


# --- a minimal SIP user agent over TLS ----------------------------------------

class Msg:
    """A parsed SIP message: first line, ordered headers, body."""

    def __init__(self, raw):
        head, _, body = raw.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        self.first = lines[0]
        self.headers = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self.headers.append((name.strip(), value.strip()))
        self.body = body.decode()
        self.raw = raw

    @property
    def is_response(self):
        return self.first.startswith("SIP/2.0 ")

    @property
    def status(self):
        return int(self.first.split()[1]) if self.is_response else None

    @property
    def method(self):
        return None if self.is_response else self.first.split()[0]

    def all(self, name):
        return [v for n, v in self.headers if n.lower() == name.lower()]

    def get(self, name, default=None):
        values = self.all(name)
        return values[0] if values else default

    def __repr__(self):
        return "<Msg %s>" % self.first


def md5(text):
    return hashlib.md5(text.encode()).hexdigest()


def digest_header(challenge, method, uri, user, password):
    """Authorization value answering a Digest challenge (RFC 2617, qop=auth or none)."""
    params = dict(re.findall(r'(\w+)="?([^",]*)"?', challenge.partition(" ")[2]))
    ha1 = md5("%s:%s:%s" % (user, params["realm"], password))
    ha2 = md5("%s:%s" % (method, uri))
    fields = [("username", user), ("realm", params["realm"]), ("nonce", params["nonce"]),
              ("uri", uri)]
    if "auth" in params.get("qop", "").split(","):
        cnonce, nc = secrets.token_hex(8), "00000001"
        response = md5(":".join([ha1, params["nonce"], nc, cnonce, "auth", ha2]))
        extra = 'qop=auth, nc=%s, cnonce="%s", ' % (nc, cnonce)
    else:
        response = md5("%s:%s:%s" % (ha1, params["nonce"], ha2))
        extra = ""
    return ("Digest " + ", ".join('%s="%s"' % kv for kv in fields) + ", " + extra
            + 'response="%s", algorithm=MD5' % response)


def client_context(certs, client_cert=False, max_tls12=False):
    ctx = ssl.create_default_context(cafile=certs.ca)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if max_tls12:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if client_cert:
        ctx.load_cert_chain(certs.pem("client"), certs.key("client"))
    return ctx


class Phone:
    """The test's stand-in for the phone: one TLS connection to the proxy, SIP by hand.

    contact_port is where the phone says it listens (its TLS server port); extra
    Contact URI parameters (;ob), Contact header parameters (;reg-id, +sip.instance)
    and Via parameters (;alias) select what the phone offers for connection reuse.
    """

    def __init__(self, kam, certs, user="alice", contact_port=None, contact_params="",
                 contact_header_params="", via_params=";rport", supported=None,
                 client_cert=False):
        self.kam, self.certs, self.user = kam, certs, user
        self.password = USERS[user]
        self.contact_port = contact_port or free_port()
        self.contact_params = contact_params
        self.contact_header_params = contact_header_params
        self.via_params = via_params
        self.supported = supported
        self.client_cert = client_cert
        self.sock = None
        self.buf = b""
        self.cseq = 0
        self.call_id = secrets.token_hex(8)
        self.tag = secrets.token_hex(4)

    def connect(self, max_tls12=False):
        raw = socket.create_connection(("127.0.0.1", self.kam.tls_port), timeout=5)
        ctx = client_context(self.certs, self.client_cert, max_tls12)
        self.sock = ctx.wrap_socket(raw, server_hostname=HOSTNAME)
        return self

    @property
    def local_port(self):
        return self.sock.getsockname()[1]

    def close(self):
        if self.sock:
            self.sock.close()
            self.sock = None

    @property
    def contact(self):
        return "<sip:%s@127.0.0.1:%d;transport=tls%s>%s" % (
            self.user, self.contact_port, self.contact_params, self.contact_header_params)

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def recv_bytes(self, timeout=5.0):
        self.sock.settimeout(timeout)
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("proxy closed the connection")
        return data

    def recv(self, timeout=5.0):
        """Next SIP message on the connection (CRLF keep-alive bytes are skipped)."""
        while True:
            self.buf = self.buf.lstrip(b"\r\n")
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                length = int(Msg(self.buf[:end + 4]).get("Content-Length", "0"))
                total = end + 4 + length
                if len(self.buf) >= total:
                    raw, self.buf = self.buf[:total], self.buf[total:]
                    return Msg(raw)
            self.buf += self.recv_bytes(timeout)

    def final_response(self, timeout=10.0):
        while True:
            msg = self.recv(timeout)
            if msg.is_response and msg.status >= 200:
                return msg

    def via(self, branch=None):
        return "SIP/2.0/TLS 127.0.0.1:%d;branch=z9hG4bK%s%s" % (
            self.contact_port, branch or secrets.token_hex(6), self.via_params)

    def request(self, method, uri, to, headers=(), body="", cseq=None, call_id=None,
                branch=None, from_tag=None):
        self.cseq = cseq or self.cseq + 1
        lines = ["%s %s SIP/2.0" % (method, uri),
                 "Via: " + self.via(branch),
                 "Max-Forwards: 70",
                 "From: <sip:%s@%s>;tag=%s" % (self.user, DOMAIN, from_tag or self.tag),
                 "To: " + to,
                 "Call-ID: " + (call_id or self.call_id),
                 "CSeq: %d %s" % (self.cseq, method)]
        if self.supported:
            lines.append("Supported: " + self.supported)
        lines += list(headers)
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append("Content-Length: %d" % len(body.encode()))
        self.send("\r\n".join(lines) + "\r\n\r\n" + body)

    def register(self, password=None, expires=300, contact=None):
        """REGISTER, answer the 401 once, return the final response."""
        password = self.password if password is None else password
        uri, to = "sip:" + DOMAIN, "<sip:%s@%s>" % (self.user, DOMAIN)
        headers = ["Contact: %s;expires=%d" % (contact or self.contact, expires)]
        self.request("REGISTER", uri, to, headers)
        first = self.final_response()
        if first.status != 401:
            return first
        auth = digest_header(first.get("WWW-Authenticate"), "REGISTER", uri, self.user,
                             password)
        self.request("REGISTER", uri, to, headers + ["Authorization: " + auth])
        return self.final_response()

    def respond(self, req, status, reason, to_tag=None, body="", contact=True):
        lines = ["SIP/2.0 %d %s" % (status, reason)]
        lines += ["Via: " + v for v in req.all("Via")]
        lines += ["Record-Route: " + v for v in req.all("Record-Route")]
        to = req.get("To") + (";tag=" + to_tag if to_tag else "")
        lines += ["From: " + req.get("From"), "To: " + to, "Call-ID: " + req.get("Call-ID"),
                  "CSeq: " + req.get("CSeq")]
        if contact:
            lines.append("Contact: " + self.contact)
        if body:
            lines.append("Content-Type: application/sdp")
        lines.append("Content-Length: %d" % len(body.encode()))
        self.send("\r\n".join(lines) + "\r\n\r\n" + body)


def sdp(port):
    return ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            "m=audio %d RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n" % port)


def uri_of(name_addr):
    return name_addr.partition("<")[2].partition(">")[0] if "<" in name_addr else name_addr


def route_set(response):
    """The UAC's route set from a 2xx: Record-Route entries in reverse order."""
    entries = []
    for value in response.all("Record-Route"):
        entries += [e.strip() for e in value.split(",")]
    return list(reversed(entries))


# --- fixtures --------------------------------------------------------------

@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_certs(tmp_path_factory.mktemp("certs"), hostname=HOSTNAME)


@pytest.fixture(scope="module")
def kam(tmp_path_factory, certs):
    with Kamailio(tmp_path_factory.mktemp("kamailio"), certs, users=USERS, domain=DOMAIN,
                  hostname=HOSTNAME) as k:
        yield k


@pytest.fixture
def phone(kam, certs):
    p = Phone(kam, certs).connect()
    yield p
    p.close()


def registered_phone(kam, certs, **kw):
    p = Phone(kam, certs, **kw).connect()
    reply = p.register()
    assert reply.status == 200, reply.raw
    return p


# --- tests -----------------------------------------------------------------

def test_missing_program_names_make_setup():
    with pytest.raises(PeerMissing, match="make setup"):
        require_program("no-such-sip-peer-program")


def test_certs_are_complete_in_pem_and_der(certs):
    for name in CertSet.NAMES:
        for path in (certs.pem(name), certs.key(name), certs.der(name), certs.key_der(name)):
            assert os.path.getsize(path) > 0, path
    with open(certs.der("ca"), "rb") as f:
        der = f.read()
    with open(certs.ca) as f:
        pem = f.read()
    assert der[0] == 0x30 and ssl.DER_cert_to_PEM_cert(der).strip() == pem.strip()


@pytest.mark.parametrize("server_cert,reason", [
    ("untrusted", "unable to get local issuer certificate"),
    ("wronghost", "Hostname mismatch"),
    ("expired", "certificate has expired"),
])
def test_bad_proxy_certificates_are_rejected(tmp_path, certs, server_cert, reason):
    with Kamailio(tmp_path, certs, users=USERS, server_cert=server_cert) as bad:
        raw = socket.create_connection(("127.0.0.1", bad.tls_port), timeout=5)
        with pytest.raises(ssl.SSLCertVerificationError) as failure:
            client_context(certs).wrap_socket(raw, server_hostname=HOSTNAME)
        raw.close()
    assert reason in failure.value.verify_message


def test_register_with_digest(kam, phone):
    uri, to = "sip:" + DOMAIN, "<sip:alice@%s>" % DOMAIN
    phone.request("REGISTER", uri, to, ["Contact: %s;expires=300" % phone.contact])
    challenge = phone.final_response()
    assert challenge.status == 401
    www = challenge.get("WWW-Authenticate")
    assert www.startswith("Digest ") and 'realm="example.test"' in www
    auth = digest_header(www, "REGISTER", uri, "alice", "secret")
    phone.request("REGISTER", uri, to, ["Contact: %s;expires=300" % phone.contact,
                                        "Authorization: " + auth])
    ok = phone.final_response()
    assert ok.status == 200, ok.raw
    assert "127.0.0.1:%d" % phone.contact_port in ok.get("Contact")
    assert "sip:alice@127.0.0.1:%d" % phone.contact_port in kam.locations("alice")
    assert phone.local_port in [c["src_port"] for c in kam.tls_connections()]


def test_register_with_wrong_password_is_refused(kam, phone):
    reply = phone.register(password="not-the-password")
    assert reply.status in (401, 403), reply.first
    assert "127.0.0.1:%d" % phone.contact_port not in kam.locations("alice")


def test_crlf_ping_gets_crlf_pong(phone):
    phone.send(b"\r\n\r\n")
    assert phone.recv_bytes(timeout=5) == b"\r\n"


def place_call(phone, target, challenge_expected):
    """INVITE target over the phone's connection; return (200 response, invite cseq)."""
    to = "<%s>" % target
    rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtp.bind(("127.0.0.1", 0))
    body = sdp(rtp.getsockname()[1])
    contact = ["Contact: " + phone.contact]
    branch, call_id = secrets.token_hex(6), secrets.token_hex(8)
    phone.request("INVITE", target, to, contact, body, branch=branch, call_id=call_id)
    reply = phone.final_response()
    if challenge_expected:
        assert reply.status == 407, reply.raw
        phone.request("ACK", target, reply.get("To"), cseq=phone.cseq, branch=branch,
                      call_id=call_id)
        auth = digest_header(reply.get("Proxy-Authenticate"), "INVITE", target, phone.user,
                             phone.password)
        phone.request("INVITE", target, to, contact + ["Proxy-Authorization: " + auth], body,
                      call_id=call_id)
        reply = phone.final_response(timeout=10)
    assert reply.status == 200, reply.raw
    return reply, rtp


def in_dialog(phone, method, ok, cseq):
    """ACK or BYE of the phone's call, routed by the 200's Record-Route set."""
    routes = ["Route: " + r for r in route_set(ok)]
    phone.request(method, uri_of(ok.get("Contact")), ok.get("To"), routes, cseq=cseq,
                  call_id=ok.get("Call-ID"))


@pytest.mark.parametrize("challenge", [True, False], ids=["407-first", "no-challenge"])
def test_call_to_sipp_uas_through_proxy(tmp_path, kam, certs, challenge):
    kam.set_option("challenge_invites", challenge)
    phone = registered_phone(kam, certs)
    try:
        with Sipp.uas(tmp_path, rtp_echo=True) as uas:
            kam.set_remote_port(uas.port)
            ok, rtp = place_call(phone, "sip:carol@remote.test", challenge)
            in_dialog(phone, "ACK", ok, phone.cseq)
            # sipp echoes RTP sent to the port in its answer
            media = int(re.search(r"m=audio (\d+)", ok.body).group(1))
            rtp.settimeout(5)
            rtp.sendto(b"\x80\x00\x00\x01" + bytes(168), ("127.0.0.1", media))
            assert rtp.recvfrom(2048)[0] == b"\x80\x00\x00\x01" + bytes(168)
            rtp.close()
            in_dialog(phone, "BYE", ok, phone.cseq + 1)
            bye_ok = phone.final_response()
            assert bye_ok.status == 200 and "BYE" in bye_ok.get("CSeq")
            assert uas.wait(20) == 0, uas.report()
    finally:
        kam.set_option("challenge_invites", True)
        phone.close()


def invite_final(phone, target, extra_headers=()):
    """Send one INVITE (and the ACK of a failure); return the final response."""
    branch, call_id = secrets.token_hex(6), secrets.token_hex(8)
    phone.request("INVITE", target, "<%s>" % target, ["Contact: " + phone.contact]
                  + list(extra_headers), sdp(4000), branch=branch, call_id=call_id)
    reply = phone.final_response()
    if reply.status >= 300:
        phone.request("ACK", target, reply.get("To"), cseq=phone.cseq, branch=branch,
                      call_id=call_id)
    return reply


@pytest.mark.parametrize("one_time_nonce", [False, True], ids=["nonce-reuse", "one-time-nonce"])
def test_reused_invite_credentials_depend_on_one_time_nonce(tmp_path, certs, one_time_nonce):
    with Kamailio(tmp_path, certs, users=USERS, one_time_nonce=one_time_nonce) as k:
        phone = registered_phone(k, certs)
        target = "sip:bob@%s" % DOMAIN        # not registered: accepted credentials give 404
        challenge = invite_final(phone, target)
        assert challenge.status == 407
        auth = "Proxy-Authorization: " + digest_header(
            challenge.get("Proxy-Authenticate"), "INVITE", target, "alice", "secret")
        assert invite_final(phone, target, [auth]).status == 404
        again = invite_final(phone, target, [auth])
        assert again.status == (407 if one_time_nonce else 404), again.raw
        phone.close()


def answer_incoming_call(phone, timeout=10):
    """Answer the INVITE arriving on the phone's connection; return the requests seen."""
    invite = phone.recv(timeout)
    assert invite.method == "INVITE", invite.raw
    to_tag = secrets.token_hex(4)
    phone.respond(invite, 180, "Ringing", to_tag)
    phone.respond(invite, 200, "OK", to_tag, body=sdp(free_port("udp")))
    ack = phone.recv(timeout)
    assert ack.method == "ACK", ack.raw
    bye = phone.recv(timeout)
    assert bye.method == "BYE", bye.raw
    phone.respond(bye, 200, "OK", contact=False)
    return invite, ack, bye


class PhoneListener:
    """The phone's own TLS server port, never accepted from: any connection to it is a
    connection the proxy should not have opened."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]

    def connection_attempted(self):
        return select.select([self.sock], [], [], 0.2)[0] != []

    def close(self):
        self.sock.close()


def assert_call_reaches_phone_on_its_connection(tmp_path, kam, certs, **phone_options):
    """sipp calls alice@example.test; the call must come over alice's TLS connection.
    Returns the phone's 200 to REGISTER."""
    listener = PhoneListener()
    opened_before = kam.opened_connections
    phone = Phone(kam, certs, contact_port=listener.port, **phone_options).connect()
    try:
        registered = phone.register()
        assert registered.status == 200, registered.raw
        accepted_before = kam.accepted_connections
        with Sipp.call(tmp_path, "127.0.0.1:%d" % kam.udp_port, "alice", DOMAIN) as caller:
            answer_incoming_call(phone)
            assert caller.wait(20) == 0, caller.report()
        # nobody connected to the phone's listening port, and the proxy opened nothing
        assert not listener.connection_attempted()
        assert kam.opened_connections == opened_before
        assert kam.accepted_connections == accepted_before
        return registered
    finally:
        phone.close()
        listener.close()


def test_incoming_call_arrives_on_the_existing_connection(tmp_path, kam, certs):
    assert_call_reaches_phone_on_its_connection(tmp_path, kam, certs)


@pytest.fixture(scope="module")
def bare_kam(tmp_path_factory, certs):
    """A proxy that does not fix contacts: only the phone's reuse signals can help."""
    with Kamailio(tmp_path_factory.mktemp("bare-kamailio"), certs, users=USERS, domain=DOMAIN,
                  hostname=HOSTNAME, fix_contacts=False, flow_timer=25) as k:
        yield k


INSTANCE = ';reg-id=1;+sip.instance="<urn:uuid:6f1c2b1e-0000-4000-8000-000000000001>"'


def test_rfc5626_registration_is_reached_over_its_flow(tmp_path, bare_kam, certs):
    registered = assert_call_reaches_phone_on_its_connection(
        tmp_path, bare_kam, certs, contact_params=";ob", contact_header_params=INSTANCE,
        supported="outbound, path")
    assert "outbound" in registered.get("Require", "")
    assert registered.get("Flow-Timer") == "25"


def test_via_alias_is_honoured(tmp_path, bare_kam, certs):
    assert_call_reaches_phone_on_its_connection(tmp_path, bare_kam, certs,
                                                via_params=";rport;alias")


def test_without_reuse_signals_the_proxy_fails_the_call_rather_than_connect(
        tmp_path, bare_kam, certs):
    listener = PhoneListener()
    opened_before = bare_kam.opened_connections
    phone = registered_phone(bare_kam, certs, contact_port=listener.port)
    try:
        with Sipp.call(tmp_path, "127.0.0.1:%d" % bare_kam.udp_port, "alice", DOMAIN) as caller:
            assert caller.wait(20) != 0
        assert "SIP/2.0 477" in caller.messages()
        assert not listener.connection_attempted()
        assert bare_kam.opened_connections == opened_before
    finally:
        phone.close()
        listener.close()


@pytest.mark.parametrize("proxy,phone_options", [
    ("kam", {}),
    ("bare_kam", {"contact_params": ";ob", "contact_header_params": INSTANCE,
                  "supported": "outbound, path"}),
], ids=["contact-alias", "rfc5626-flow-token"])
def test_far_end_bye_comes_over_the_phone_connection(request, tmp_path, certs, proxy,
                                                     phone_options):
    kam = request.getfixturevalue(proxy)
    listener = PhoneListener()
    phone = registered_phone(kam, certs, contact_port=listener.port, **phone_options)
    opened_before = kam.opened_connections
    try:
        with Sipp.uas(tmp_path, hangup=True, hold_ms=200) as uas:
            kam.set_remote_port(uas.port)
            ok, rtp = place_call(phone, "sip:carol@remote.test", challenge_expected=True)
            rtp.close()
            if "contact_params" in phone_options:
                assert all("@" in r for r in route_set(ok)), "no flow token: %s" % ok.raw
            in_dialog(phone, "ACK", ok, phone.cseq)
            bye = phone.recv(10)
            assert bye.method == "BYE", bye.raw
            phone.respond(bye, 200, "OK", contact=False)
            assert uas.wait(20) == 0, uas.report()
        assert not listener.connection_attempted()
        assert kam.opened_connections == opened_before
    finally:
        phone.close()
        listener.close()


def test_tls_handshake_counter_counts_client_hellos(tmp_path, kam, certs):
    accepted_before = kam.accepted_connections
    with TlsHandshakeCounter(tmp_path, kam.tls_port) as hellos:
        first = Phone(kam, certs).connect()
        second = Phone(kam, certs).connect()
        assert first.register().status == 200
        first.close()
        second.close()
    seen = hellos.client_hellos()
    assert len(seen) == 2
    assert {h["server_name"] for h in seen} == {HOSTNAME}
    assert kam.accepted_connections - accepted_before == 2


def test_restart_then_reconnect_and_register(kam, certs):
    phone = registered_phone(kam, certs)
    starts = kam.starts
    kam.restart()
    assert kam.starts == starts + 1
    with pytest.raises((EOFError, ConnectionError, ssl.SSLError, OSError)):
        phone.send(b"\r\n\r\n")
        phone.recv_bytes(timeout=5)
    phone.close()
    assert kam.locations("alice") == ""        # registrations lived in memory only
    phone.connect()
    assert phone.register().status == 200
    phone.send(b"\r\n\r\n")
    assert phone.recv_bytes(timeout=5) == b"\r\n"
    phone.close()


def test_mutual_tls_requires_a_client_certificate(tmp_path, certs):
    with Kamailio(tmp_path, certs, users=USERS, verify_client=True) as mtls:
        anonymous = Phone(mtls, certs)
        with pytest.raises((ssl.SSLError, ConnectionError, EOFError)):
            anonymous.connect(max_tls12=True)
            anonymous.send(b"\r\n\r\n")
            anonymous.recv_bytes(timeout=5)
        anonymous.close()
        phone = Phone(mtls, certs, client_cert=True).connect(max_tls12=True)
        assert phone.register().status == 200
        phone.close()


def test_kamailio_reports_a_bad_start(tmp_path, certs):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        with pytest.raises(PeerError, match="kamailio"):
            Kamailio(tmp_path, certs, tls_port=busy.getsockname()[1], start_timeout=5).start()
    finally:
        busy.close()
