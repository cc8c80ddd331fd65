"""Digest authentication for the phone as a SIP client (RFC 3261 section 22,
RFC 7616, RFC 8760).

Rule: a 401 (``WWW-Authenticate``) or 407 (``Proxy-Authenticate``) is answered
once per nonce. ``DigestClient`` remembers one challenge per realm and per
header kind, so a registrar's 401 and a proxy's 407 are both kept, and every
later request carries credentials for each known realm with the next nonce
count (proactive credentials: a call does not pay a 407 round trip). A new
challenge for a realm replaces the old one; ``stale=true`` is answered with the
new nonce silently; the same nonce refused again without ``stale`` means the
password is wrong, and ``handle_challenge`` says so by returning False.

Supported: MD5, MD5-sess, SHA-256, SHA-256-sess with qop ``auth``,
``auth-int`` or no qop (RFC 2069). SHA-512-256 is refused as unsupported
because MicroPython's hashlib has no SHA-512; when a server offers several
algorithms for one realm the strongest supported one wins.

The password is kept in one private attribute and is never formatted into a
repr, a str or an exception message.
"""

from firmware.compat import hexdigest
from firmware.core.errors import SipSyntaxError

# Upper-cased algorithm token -> (RFC spelling, compat.hexdigest name, session?, strength).
_ALGORITHMS = {
    "MD5": ("MD5", "md5", False, 1),
    "MD5-SESS": ("MD5-sess", "md5", True, 1),
    "SHA-256": ("SHA-256", "sha256", False, 2),
    "SHA-256-SESS": ("SHA-256-sess", "sha256", True, 2),
}

# Defined by RFC 7616 but needing SHA-512, which MicroPython's hashlib lacks.
_UNSUPPORTED_ALGORITHMS = ("SHA-512-256", "SHA-512-256-SESS")

# Refusals of our credentials for one realm, each with a fresh nonce, before
# giving up: a server that changes the nonce on every 401 would otherwise make
# a wrong password loop for ever.
MAX_REJECTIONS = 3

_WHITESPACE = " \t\r\n"
_TOKEN_END = " \t\r\n,=\""
_VALUE_END = " \t\r\n,"


class DigestError(SipSyntaxError):
    """A challenge or credentials that cannot be read or cannot be answered."""


class Challenge:
    """One parsed ``WWW-Authenticate``/``Proxy-Authenticate`` challenge.

    ``algorithm`` is in its RFC spelling ('MD5' when the challenge has none);
    ``algorithm_given`` says whether the server named it (then it is echoed).
    ``qop`` is a list of lower-cased options, empty for RFC 2069 servers.
    ``params`` keeps every parameter as [lower-cased name, value] in order.
    """

    __slots__ = ("scheme", "realm", "nonce", "opaque", "algorithm", "algorithm_given",
                 "qop", "stale", "domain", "userhash", "charset", "params")

    def __init__(self, scheme, params):
        self.scheme = scheme
        self.params = params
        self.realm = _param(params, "realm")
        self.nonce = _param(params, "nonce")
        self.opaque = _param(params, "opaque")
        self.domain = _param(params, "domain")
        self.charset = _param(params, "charset")
        algorithm = _param(params, "algorithm")
        self.algorithm_given = algorithm is not None
        if algorithm is None:
            algorithm = "MD5"
        known = _ALGORITHMS.get(algorithm.upper())
        self.algorithm = known[0] if known else algorithm
        qop = _param(params, "qop")
        self.qop = []
        if qop:
            for option in qop.split(","):
                option = option.strip().lower()
                if option:
                    self.qop.append(option)
        self.stale = (_param(params, "stale") or "").lower() == "true"
        self.userhash = (_param(params, "userhash") or "").lower() == "true"

    @property
    def is_digest(self):
        return self.scheme.lower() == "digest"

    def __repr__(self):
        return "Challenge(%s realm=%r algorithm=%s qop=%s stale=%s)" % (
            self.scheme, self.realm, self.algorithm, ",".join(self.qop) or "-", self.stale)


def _param(params, name):
    for key, value in params:
        if key == name:
            return value
    return None


def _skip_ws(text, i):
    n = len(text)
    while i < n and text[i] in _WHITESPACE:
        i += 1
    return i


def _read_until(text, i, stop):
    start = i
    n = len(text)
    while i < n and text[i] not in stop:
        i += 1
    return text[start:i], i


def _read_quoted(text, i):
    """The quoted-string starting at text[i] == '"', unescaped, and the index after it."""
    out = []
    i += 1
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n:
            out.append(text[i + 1])
            i += 2
            continue
        if ch == '"':
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    raise DigestError("unterminated quoted string in authentication header")


def _parse_auth_list(text):
    """Split an authentication header value into [scheme, params] items.

    A token followed by '=' is a parameter of the current item; any other token
    starts a new item (so 'Digest realm="a", nonce="b", Basic realm="c"' is two).
    """
    if not isinstance(text, str):
        raise DigestError("authentication header must be text")
    items = []
    current = None
    i = 0
    n = len(text)
    while True:
        i = _skip_ws(text, i)
        while i < n and text[i] == ",":
            i = _skip_ws(text, i + 1)
        if i >= n:
            break
        name, i = _read_until(text, i, _TOKEN_END)
        if not name:
            raise DigestError("unexpected %r in authentication header" % text[i])
        j = _skip_ws(text, i)
        if j < n and text[j] == "=":
            if current is None:
                raise DigestError("parameter %r before the scheme" % name)
            j = _skip_ws(text, j + 1)
            if j < n and text[j] == '"':
                value, i = _read_quoted(text, j)
            else:
                value, i = _read_until(text, j, _VALUE_END)
                if not value:
                    raise DigestError("parameter %r has no value" % name)
            key = name.lower()
            if _param(current[1], key) is not None:
                raise DigestError("duplicate parameter %r" % key)
            current[1].append([key, value])
            i = _skip_ws(text, i)
            if i < n and text[i] != ",":
                raise DigestError("expected ',' after parameter %r" % key)
        else:
            current = [name, []]
            items.append(current)
            i = j
    if not items:
        raise DigestError("empty authentication header")
    return items


def parse_challenges(value):
    """Every challenge in one header value (usually one): list of Challenge."""
    challenges = []
    for scheme, params in _parse_auth_list(value):
        challenge = Challenge(scheme, params)
        if challenge.is_digest:
            if challenge.realm is None:
                raise DigestError("Digest challenge without realm")
            if not challenge.nonce:
                raise DigestError("Digest challenge without nonce")
        challenges.append(challenge)
    return challenges


def parse_challenge(value):
    """The first challenge of a ``WWW-Authenticate``/``Proxy-Authenticate`` value.

    Raises DigestError when the value is malformed or a Digest challenge lacks
    its realm or nonce.
    """
    return parse_challenges(value)[0]


def _algorithm_info(algorithm):
    info = _ALGORITHMS.get((algorithm or "MD5").upper())
    if info is None:
        if algorithm.upper() in _UNSUPPORTED_ALGORITHMS:
            raise DigestError("algorithm %s is not supported (no SHA-512 here)" % algorithm)
        raise DigestError("unknown digest algorithm %r" % algorithm)
    return info


def _nc_text(nc):
    if isinstance(nc, int):
        return "%08x" % nc
    return nc


def compute_response(algorithm, username, password, realm, nonce, method, uri, qop, nc,
                     cnonce, body=b""):
    """The ``response`` value in lower-case hex.

    ``qop`` is 'auth', 'auth-int' or None/'' (RFC 2069: no nc, no cnonce);
    ``nc`` is an int or its 8-digit hex text; ``body`` is hashed for auth-int.
    """
    _, hash_name, session, _ = _algorithm_info(algorithm)
    if qop and qop not in ("auth", "auth-int"):
        raise DigestError("unsupported qop %r" % qop)
    ha1 = hexdigest(hash_name, username + ":" + realm + ":" + password)
    if session:
        ha1 = hexdigest(hash_name, ha1 + ":" + nonce + ":" + cnonce)
    a2 = method + ":" + uri
    if qop == "auth-int":
        a2 = a2 + ":" + hexdigest(hash_name, body or b"")
    ha2 = hexdigest(hash_name, a2)
    if qop:
        data = ha1 + ":" + nonce + ":" + _nc_text(nc) + ":" + cnonce + ":" + qop + ":" + ha2
    else:
        data = ha1 + ":" + nonce + ":" + ha2
    return hexdigest(hash_name, data)


def _quote(value):
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _unusable(challenge):
    """Why this challenge cannot be answered, or None when it can."""
    if not challenge.is_digest:
        return "authentication scheme %s is not supported" % challenge.scheme
    try:
        _, _, session, _ = _algorithm_info(challenge.algorithm)
    except DigestError as exc:
        return str(exc)
    if challenge.qop and _choose_qop(challenge) is None:
        return "no supported qop in %r" % ",".join(challenge.qop)
    if session and not challenge.qop:
        return "%s without qop cannot be answered" % challenge.algorithm
    return None


def _choose_qop(challenge):
    if not challenge.qop:
        return None
    if "auth" in challenge.qop:
        return "auth"
    if "auth-int" in challenge.qop:
        return "auth-int"
    return None


class _RealmState:
    """What is known about one realm: the challenge to answer and the count."""

    __slots__ = ("realm", "proxy", "challenge", "qop", "nc", "cnonce", "rejections", "unused")

    def __init__(self, realm, proxy):
        self.realm = realm
        self.proxy = proxy
        self.challenge = None
        self.qop = None
        self.nc = 0
        self.cnonce = ""
        self.rejections = 0
        # True until the latest challenge has been answered once.
        self.unused = True

    @property
    def header_name(self):
        return "Proxy-Authorization" if self.proxy else "Authorization"


class DigestClient:
    """Answers digest challenges for one account and signs later requests.

    ``username`` is the SIP user; ``auth_user`` the authentication name when the
    provider uses a different one. ``rand_token()`` returns a fresh hex string
    and supplies the cnonce. After ``handle_challenge`` returns False,
    ``last_error`` says why (without the password).
    """

    __slots__ = ("username", "auth_user", "_password", "_rand_token", "_states", "last_error")

    def __init__(self, username, password, rand_token, auth_user=None):
        if password is None:
            password = ""
        if not isinstance(password, str):
            raise DigestError("password must be a string")
        self.username = username
        self.auth_user = auth_user
        self._password = password
        self._rand_token = rand_token
        self._states = []
        self.last_error = None

    def __repr__(self):
        return "DigestClient(user=%r, realms=%r)" % (
            self.auth_user or self.username, [s.realm for s in self._states])

    def __str__(self):
        return self.__repr__()

    def realms(self):
        """Known realms as (realm, proxy) pairs: proxy True for 407 realms."""
        return [(s.realm, s.proxy) for s in self._states]

    def forget(self, realm=None):
        """Drop what is known about ``realm`` (both kinds), or about every realm."""
        self._states = [s for s in self._states if realm is not None and s.realm != realm]

    def _find(self, realm, proxy):
        for state in self._states:
            if state.realm == realm and state.proxy == proxy:
                return state
        return None

    def handle_challenge(self, request, response):
        """Take in a 401/407 to ``request``; True when re-sending with
        ``authorize(request)`` can succeed, False when it is pointless."""
        self.last_error = None
        status = getattr(response, "status", None)
        if status == 401:
            proxy, header, sent_header = False, "WWW-Authenticate", "Authorization"
        elif status == 407:
            proxy, header, sent_header = True, "Proxy-Authenticate", "Proxy-Authorization"
        else:
            self.last_error = "status %r is not an authentication challenge" % (status,)
            return False
        chosen = []
        problems = []
        for value in response.headers.get_all(header):
            try:
                challenges = parse_challenges(value)
            except DigestError as exc:
                problems.append(str(exc))
                continue
            for challenge in challenges:
                reason = _unusable(challenge)
                if reason is not None:
                    problems.append(reason)
                else:
                    _keep_strongest(chosen, challenge)
        if not chosen:
            if not problems:
                problems.append("%d without %s" % (status, header))
            self.last_error = "; ".join(problems)
            return False
        sent = _sent_nonces(request, sent_header)
        failures = []
        for challenge in chosen:
            realm = challenge.realm
            state = self._find(realm, proxy)
            sent_nonce = sent.get(realm)
            rejections = 0
            if sent_nonce is not None:
                rejections = (state.rejections if state is not None else 0) + 1
                if (challenge.nonce == sent_nonce and not challenge.stale) or \
                        rejections > MAX_REJECTIONS:
                    failures.append("credentials for realm %r rejected" % realm)
                    if state is not None:
                        self._states.remove(state)
                    continue
            if state is None:
                state = _RealmState(realm, proxy)
                self._states.append(state)
            if state.challenge is None or state.challenge.nonce != challenge.nonce:
                state.nc = 0
                state.cnonce = self._rand_token()
            state.challenge = challenge
            state.qop = _choose_qop(challenge)
            state.rejections = rejections
            state.unused = True
        if failures:
            self.last_error = "; ".join(failures)
            return False
        return True

    def authorize(self, request):
        """Replace the request's credentials with fresh ones for every known realm.

        ACK and CANCEL are left untouched: they cannot be challenged, and the
        ACK for a 2xx must carry the INVITE's own credentials (RFC 3261 13.2.2.4),
        which the user agent copies.
        """
        if request.method in ("ACK", "CANCEL"):
            return
        request.headers.remove("Authorization")
        request.headers.remove("Proxy-Authorization")
        for state in self._states:
            request.headers.add(state.header_name, self._credentials(state, request))

    def _credentials(self, state, request):
        challenge = state.challenge
        if state.unused:
            state.unused = False
        else:
            # A second use of this challenge: the first one was not refused.
            state.rejections = 0
        state.nc += 1
        user = self.auth_user or self.username
        nc = "%08x" % state.nc
        response = compute_response(challenge.algorithm, user, self._password, challenge.realm,
                                    challenge.nonce, request.method, request.uri, state.qop, nc,
                                    state.cnonce, request.body or b"")
        name_field = user
        if challenge.userhash:
            hash_name = _algorithm_info(challenge.algorithm)[1]
            name_field = hexdigest(hash_name, user + ":" + challenge.realm)
        parts = [
            "username=" + _quote(name_field),
            "realm=" + _quote(challenge.realm),
            "nonce=" + _quote(challenge.nonce),
            "uri=" + _quote(request.uri),
            "response=" + _quote(response),
        ]
        if challenge.algorithm_given:
            parts.append("algorithm=" + challenge.algorithm)
        if challenge.opaque is not None:
            parts.append("opaque=" + _quote(challenge.opaque))
        if state.qop:
            parts.append("qop=" + state.qop)
            parts.append("nc=" + nc)
            parts.append("cnonce=" + _quote(state.cnonce))
        if challenge.userhash:
            parts.append("userhash=true")
        return "Digest " + ", ".join(parts)


def _keep_strongest(chosen, challenge):
    """Keep one challenge per realm: the strongest algorithm, the first on a tie."""
    strength = _algorithm_info(challenge.algorithm)[3]
    for index in range(len(chosen)):
        if chosen[index].realm == challenge.realm:
            if strength > _algorithm_info(chosen[index].algorithm)[3]:
                chosen[index] = challenge
            return
    chosen.append(challenge)


def _sent_nonces(request, header):
    """{realm: nonce} of the Digest credentials ``request`` carried in ``header``."""
    sent = {}
    if request is None:
        return sent
    for value in request.headers.get_all(header):
        try:
            items = _parse_auth_list(value)
        except DigestError:
            continue
        for scheme, params in items:
            realm = _param(params, "realm")
            nonce = _param(params, "nonce")
            if scheme.lower() == "digest" and realm is not None and nonce is not None:
                sent[realm] = nonce
    return sent
