"""SIP, SIPS and tel URIs (RFC 3261 sections 19.1 and 25.1, RFC 3966).

Rule: a Uri holds the parts of a URI as text. user and password keep their
%-escapes, except escapes of unreserved characters, which are decoded
(that never changes what the URI means, RFC 3261 19.1.4); nothing is ever
unescaped twice. A URI of a scheme other than sip, sips or tel keeps
everything after ``scheme:`` verbatim in ``opaque``. IPv6 hosts keep their
brackets, as on the wire. parse_uri raises SipSyntaxError and nothing else.
"""

from firmware.core.errors import SipSyntaxError

_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
# Characters RFC 3261 calls "unreserved": an escape of one of them may be decoded.
_UNRESERVED = _ALNUM + "-_.!~*'()"
_HEX = "0123456789abcdefABCDEF"
_DIGITS = "0123456789"
# Everything a URI may contain unescaped ('#' too: phones send it in feature codes).
_URI_CHARS = _UNRESERVED + "%;/?:@&=+$,[]#"
_SCHEME_CHARS = _ALNUM + "+.-"
_HOST_CHARS = _ALNUM + "_.-"
_IPV6_CHARS = _HEX + ":."

# Character checks use str.strip(chars) rather than regular expressions: it is
# as fast on CPython and, unlike MicroPython's recursive regex engine, never
# runs out of stack on long input.

# Patterns for the plain, common form of a SIP URI, used by the message layer to
# accept ordinary messages quickly. Each accepts a strict subset of what
# parse_uri() accepts: a miss means "ask the full parser", never "malformed".
# Possessive quantifiers (*+, ++, ?+) only ever reject more, never accept more.
_USER_RE = "[A-Za-z0-9._~!$&'()*+,;=?/-]++"
_PASSWORD_RE = "[A-Za-z0-9._~!$&'()*+,;=-]*+"
HOST_RE = "(?:[A-Za-z0-9_.-]++|\\[[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*\\])"
# Longest alternatives first: inside a possessive group nothing is retried later.
PORT_RE = ("(?:[0-5][0-9][0-9][0-9][0-9]|6[0-4][0-9][0-9][0-9]|65[0-4][0-9][0-9]"
           "|655[0-2][0-9]|6553[0-5]|[0-9][0-9]?[0-9]?[0-9]?)")
_PARAM_CHARS_RE = "[A-Za-z0-9._~!$&'()*+%:\\[\\]/-]++"
SIP_URI_RE = ("sips?:(?:" + _USER_RE + "(?::" + _PASSWORD_RE + ")?@)?" + HOST_RE
              + "(?::" + PORT_RE + ")?(?:;" + _PARAM_CHARS_RE + "(?:=" + _PARAM_CHARS_RE
              + ")?+)*+")
# The same inside an addr-spec written without <>: no ';', '?' or ',' in the user.
SIP_URI_BARE_RE = ("sips?:(?:[A-Za-z0-9._~!$&'()*+=/-]++(?::[A-Za-z0-9._~!$&'()*+=-]*+)?@)?"
                   + HOST_RE + "(?::" + PORT_RE + ")?")


def only_chars(text, allowed):
    """True when text is non-empty and every character of it is in allowed."""
    return bool(text) and not text.strip(allowed)


def is_digits(text):
    """True when text is one or more ASCII digits (same answer on every interpreter)."""
    return bool(text) and not text.strip(_DIGITS)


def parse_port(text):
    if not is_digits(text) or len(text) > 5:
        raise SipSyntaxError("bad port %r" % text)
    port = int(text)
    if port > 65535:
        raise SipSyntaxError("port out of range: %s" % text)
    return port


def check_host(host):
    """Raise unless host is a host name, an IPv4 address or a bracketed IPv6 reference."""
    if not host:
        raise SipSyntaxError("empty host")
    if host[0] == "[":
        if host[-1] != "]" or ":" not in host or not only_chars(host[1:-1], _IPV6_CHARS):
            raise SipSyntaxError("bad IPv6 reference %r" % host)
    elif host.strip(_HOST_CHARS):
        raise SipSyntaxError("bad host %r" % host)


def split_hostport(text):
    """'host', 'host:port', '[v6]' or '[v6]:port' -> (host, port|None)."""
    if text[:1] == "[":
        end = text.find("]")
        if end < 0:
            raise SipSyntaxError("unterminated IPv6 reference")
        host = text[: end + 1]
        tail = text[end + 1 :]
        if not tail:
            port = None
        elif tail[0] == ":":
            port = parse_port(tail[1:])
        else:
            raise SipSyntaxError("junk after IPv6 reference")
    else:
        host, sep, tail = text.partition(":")
        port = parse_port(tail) if sep else None
    check_host(host)
    return host, port


def unescape_safe(text):
    """Decode %-escapes of unreserved characters only; check every escape."""
    if "%" not in text:
        return text
    out = []
    i = 0
    while True:
        j = text.find("%", i)
        if j < 0:
            out.append(text[i:])
            break
        out.append(text[i:j])
        pair = text[j + 1 : j + 3]
        if len(pair) != 2 or pair[0] not in _HEX or pair[1] not in _HEX:
            raise SipSyntaxError("bad %-escape in " + repr(text))
        char = chr(int(pair, 16))
        out.append(char if char in _UNRESERVED else "%" + pair)
        i = j + 3
    return "".join(out)


def _parse_uri_params(text):
    params = []
    for item in text.split(";"):
        name, sep, value = item.partition("=")
        if not name or (sep and not value):
            raise SipSyntaxError("empty URI parameter")
        params.append([name, value if sep else None])
    return params


def _parse_uri_headers(text):
    headers = []
    for item in text.split("&"):
        name, sep, value = item.partition("=")
        if not name or not sep:
            raise SipSyntaxError("bad URI header %r" % item)
        headers.append([name, value])
    return headers


def _find_param(params, name):
    low = name.lower()
    for i in range(len(params)):
        if params[i][0].lower() == low:
            return i
    return -1


class Uri:
    """A parsed URI; build one with keywords or with parse_uri()."""

    __slots__ = ("scheme", "user", "password", "host", "port", "params", "headers", "opaque")

    def __init__(self, scheme="sip", user=None, host=None, port=None, params=None,
                 headers=None, password=None, opaque=None):
        self.scheme = scheme
        self.user = user
        self.password = password
        self.host = host
        self.port = port
        self.params = params if params is not None else []
        self.headers = headers if headers is not None else []
        self.opaque = opaque

    def param(self, name, default=None):
        """Value of URI parameter ``name``; '' for a flag such as ;lr; default if absent."""
        i = _find_param(self.params, name)
        if i < 0:
            return default
        value = self.params[i][1]
        return "" if value is None else value

    def has_param(self, name):
        return _find_param(self.params, name) >= 0

    def set_param(self, name, value=None):
        """Replace the parameter in place, or append it; value None makes a flag."""
        if value is not None and not isinstance(value, str):
            value = str(value)
        i = _find_param(self.params, name)
        if i < 0:
            self.params.append([name, value])
        else:
            self.params[i] = [name, value]

    def remove_param(self, name):
        i = _find_param(self.params, name)
        if i >= 0:
            del self.params[i]

    @property
    def transport(self):
        value = self.param("transport")
        return value.lower() if value else None

    def copy(self):
        return Uri(self.scheme, self.user, self.host, self.port,
                   [list(p) for p in self.params], [list(h) for h in self.headers],
                   self.password, self.opaque)

    def serialize(self):
        if self.opaque is not None:
            return self.scheme + ":" + self.opaque
        out = [self.scheme, ":"]
        if self.scheme == "tel":
            out.append(self.user or "")
        else:
            if self.user is not None:
                out.append(self.user)
                if self.password is not None:
                    out.append(":")
                    out.append(self.password)
                out.append("@")
            out.append(self.host or "")
            if self.port is not None:
                out.append(":%d" % self.port)
        for name, value in self.params:
            out.append(";" + name if value is None else ";" + name + "=" + value)
        if self.headers:
            out.append("?")
            out.append("&".join([n + "=" + v for n, v in self.headers]))
        return "".join(out)

    __str__ = serialize

    def __repr__(self):
        return "Uri(%r)" % self.serialize()

    def __eq__(self, other):
        return isinstance(other, Uri) and self.serialize() == other.serialize()

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return hash(self.serialize())


def parse_uri(text):
    """Parse a sip:, sips:, tel: or other absolute URI; raise SipSyntaxError if malformed."""
    if not isinstance(text, str):
        raise SipSyntaxError("URI must be text")
    colon = text.find(":")
    if colon <= 0:
        raise SipSyntaxError("URI without scheme: %r" % text)
    if text.strip(_URI_CHARS):
        raise SipSyntaxError("white space or forbidden character in URI %r" % text)
    scheme = text[:colon].lower()
    rest = text[colon + 1 :]
    if scheme == "sip" or scheme == "sips":
        return _parse_sip(scheme, rest)
    if not only_chars(scheme, _SCHEME_CHARS) or scheme[0] not in _ALNUM[:52]:
        raise SipSyntaxError("bad URI scheme %r" % text[:colon])
    if not rest:
        raise SipSyntaxError("empty URI after scheme")
    if scheme == "tel":
        number, sep, ptext = rest.partition(";")
        if not number:
            raise SipSyntaxError("tel URI without a number")
        return Uri("tel", number, None, None, _parse_uri_params(ptext) if sep else [])
    return Uri(scheme, opaque=rest)


def _parse_sip(scheme, rest):
    # '@' can appear once at most, unescaped, and only to end the userinfo.
    at = rest.find("@")
    if at >= 0:
        user, sep, password = rest[:at].partition(":")
        if not user:
            raise SipSyntaxError("empty user part")
        user = unescape_safe(user)
        password = unescape_safe(password) if sep else None
        rest = rest[at + 1 :]
    else:
        user = password = None
    headers = []
    q = rest.find("?")
    if q >= 0:
        headers = _parse_uri_headers(rest[q + 1 :])
        rest = rest[:q]
    params = []
    semi = rest.find(";")
    if semi >= 0:
        params = _parse_uri_params(rest[semi + 1 :])
        rest = rest[:semi]
    host, port = split_hostport(rest)
    return Uri(scheme, user, host, port, params, headers, password)
