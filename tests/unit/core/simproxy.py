"""A tiny stateless proxy and registrar for the netsim tests.

Rule: just enough RFC 3261 section 16 to carry calls between simulated
phones: a registrar with digest (401, stale nonces, 423 Min-Expires), a
location service that forks an INVITE to every registered contact, loose
routing with Record-Route, stateless forwarding of responses by Via, and
optional 407 challenges for INVITEs. Branches are derived from the incoming
branch, so a CANCEL or an ACK for a non-2xx follows its INVITE.
"""

from firmware.core.commands import Flow
from firmware.core.digest import compute_response, parse_challenge
from firmware.core.headers import parse_name_addr
from firmware.core.errors import MessageError
from firmware.core.message import make_response
from firmware.core.parse import parse_message
from firmware.core.uri import parse_uri
from netsim import addr_of, remember, split_addr


class Binding:
    __slots__ = ("contact", "addr", "expires_at", "instance")

    def __init__(self, contact, addr, expires_at, instance):
        self.contact = contact
        self.addr = addr
        self.expires_at = expires_at
        self.instance = instance


class SimProxy:
    def __init__(self, host, port, domain, users=None, realm="sim.test",
                 auth_invite=False, min_expires=None, max_expires=None, nonce_ttl=None,
                 record_route=True):
        self.host = host
        self.port = port
        self.addr = addr_of(host, port)
        self.domain = domain
        self.users = users if users is not None else {}   # empty: no authentication
        self.realm = realm
        self.auth_invite = auth_invite
        self.min_expires = min_expires
        self.max_expires = max_expires
        self.nonce_ttl = nonce_ttl
        self.record_route = record_route
        self.bindings = {}            # user -> [Binding]
        self.nonces = {}              # nonce -> [issued_at, highest nc]
        self.nonce_serial = 0
        self.outbox = []
        self.flows = {}               # peer addr -> flow id
        self.received = []            # (method or status, message), the latest ones
        self.counts = {}              # method or status -> how many arrived
        self.history = 150            # messages kept in ``received``
        self.challenges = 0
        self.last_src = None
        self.now = 0.0

    # -- node interface ------------------------------------------------------------

    def deliver(self, data, source, reliable, now):
        self.now = now
        src = self.last_src
        if isinstance(source, Flow):
            self.flows[src] = source.flow_id
        try:
            msg = parse_message(data)
        except MessageError:
            return
        key = msg.method if msg.is_request else msg.status
        remember(self.received, (key, msg), self.history)
        self.counts[key] = self.counts.get(key, 0) + 1
        if msg.is_request:
            self._request(msg, src)
        else:
            self._response(msg)

    def next_deadline(self):
        return None

    def on_timer(self, now):
        pass

    def flush(self, sim):
        out = self.outbox
        self.outbox = []
        for dst, msg in out:
            data = msg.serialize()
            flow = self.flows.get(dst)
            if flow is not None:
                sim.net.send_flow(self.addr, dst, flow, data, sim.now)
            else:
                sim.net.send_datagram(self.addr, dst, data, sim.now)

    def methods(self, name):
        return [m for key, m in self.received if key == name]

    # -- responses -------------------------------------------------------------------

    def _reply(self, request, status, headers=None, to_tag="px1"):
        response = make_response(request, status, None, to_tag, headers)
        self._response_to(response, request.vias()[0])

    def _response_to(self, response, via):
        host = via.received or via.host
        port = via.rport if isinstance(via.rport, int) and via.rport is not True else None
        self.outbox.append((addr_of(host, port or via.port or 5060), response))

    def _response(self, response):
        vias = response.vias()
        if len(vias) < 2 or vias[0].host != self.host:
            return
        response.headers.remove("Via")
        for via in vias[1:]:
            response.headers.add("Via", via.serialize())
        self._response_to(response, vias[1])

    # -- requests --------------------------------------------------------------------

    def _request(self, request, src):
        method = request.method
        if method == "ACK" and request.to_addr().tag == "px1":
            return                                  # ACK for our own error response
        self._stamp_via(request, src)
        ruri = request.request_uri()
        routes = request.headers.get_all("Route")
        if routes and parse_name_addr(routes[0]).uri.host == self.host:
            request.headers.remove("Route")
            for route in routes[1:]:
                request.headers.add("Route", route)
            routes = routes[1:]
        if method == "REGISTER" and not routes and ruri.host == self.domain:
            self._register(request)
            return
        if method == "INVITE" and self.auth_invite and request.to_addr().tag is None:
            problem = self._check_auth(request, "Proxy-Authorization")
            if problem is not None:
                self._challenge(request, 407, "Proxy-Authenticate", problem == "stale")
                return
        if routes:
            targets = [(None, self._addr_of(parse_name_addr(routes[0]).uri))]
        elif ruri.host == self.domain:
            found = [b for b in self.bindings.get(ruri.user, []) if b.expires_at > self.now]
            if not found:
                if method != "ACK":
                    self._reply(request, 404)
                return
            targets = [(b.contact, b.addr) for b in found]
        else:
            targets = [(None, self._addr_of(ruri))]
        branch = request.top_via().branch
        for index in range(len(targets)):
            contact, dst = targets[index]
            fwd = request.copy()
            if contact is not None:
                fwd.uri = contact
            if self.record_route and method == "INVITE" and request.to_addr().tag is None:
                fwd.headers.insert_first("Record-Route", "<sip:%s;lr>" % self.addr)
            fwd.headers.insert_first(
                "Via", "SIP/2.0/UDP %s;branch=z9hG4bK-px-%s-%d" % (self.addr, branch, index))
            self.outbox.append((dst, fwd))

    def _stamp_via(self, request, src):
        vias = request.vias()
        host, port = split_addr(src)
        vias[0].set_param("received", host)
        vias[0].set_param("rport", "%d" % port)
        request.headers.remove("Via")
        for via in reversed(vias):
            request.headers.insert_first("Via", via.serialize())

    def _addr_of(self, uri):
        return addr_of(uri.host, uri.port or 5060)

    # -- registrar -------------------------------------------------------------------

    def _register(self, request):
        user = request.to_addr().uri.user
        if self.users:
            problem = self._check_auth(request, "Authorization")
            if problem is not None:
                self._challenge(request, 401, "WWW-Authenticate", problem == "stale")
                return
        header = request.headers.get("Expires")
        default = int(header) if header is not None else 3600
        contacts = request.contacts()
        current = self.bindings.get(user, [])
        if contacts == ["*"]:
            current = []
        for contact in contacts:
            if contact == "*":
                continue
            value = contact.param("expires")
            expires = int(value) if value is not None else default
            if 0 < expires and self.min_expires and expires < self.min_expires:
                self._reply(request, 423, [("Min-Expires", "%d" % self.min_expires)])
                return
            if self.max_expires and expires > self.max_expires:
                expires = self.max_expires
            uri = contact.uri.serialize()
            current = [b for b in current if b.contact != uri]
            if expires > 0:
                current.append(Binding(uri, self._addr_of(contact.uri), self.now + expires,
                                       contact.param("+sip.instance")))
        self.bindings[user] = current
        headers = []
        for b in current:
            headers.append(("Contact", "<%s>;expires=%d" % (b.contact,
                                                           int(b.expires_at - self.now + 0.5))))
        self._reply(request, 200, headers)

    def _challenge(self, request, status, header, stale):
        self.challenges += 1
        self.nonce_serial += 1
        nonce = "n%dx%d" % (self.nonce_serial, int(self.now))
        self.nonces[nonce] = [self.now, 0]
        value = 'Digest realm="%s", nonce="%s", qop="auth", algorithm=MD5' % (self.realm, nonce)
        if stale:
            value += ", stale=true"
        self._reply(request, status, [(header, value)])

    def _check_auth(self, request, header):
        """None when the request carries valid credentials, else why not."""
        for value in request.headers.get_all(header):
            cred = parse_challenge(value)
            params = {}
            for key, val in cred.params:
                params[key] = val.strip('"') if val else val
            if params.get("realm") != self.realm:
                continue
            nonce = params.get("nonce")
            state = self.nonces.get(nonce)
            if state is None:
                return "stale"
            if self.nonce_ttl is not None and self.now - state[0] > self.nonce_ttl:
                return "stale"
            user = params.get("username")
            password = self.users.get(user)
            if password is None:
                return "unknown user"
            nc = int(params.get("nc", "0"), 16)
            expected = compute_response("MD5", user, password, self.realm, nonce,
                                        request.method, params.get("uri"), params.get("qop"),
                                        params.get("nc"), params.get("cnonce"))
            if expected != params.get("response"):
                return "wrong response"
            if nc <= state[1]:
                return "replayed nc"
            state[1] = nc
            return None
        return "missing"


def uri_addr(text):
    uri = parse_uri(text)
    return addr_of(uri.host, uri.port or 5060)
