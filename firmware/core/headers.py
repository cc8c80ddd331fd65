"""Field-level SIP grammar: header names, parameters, name-addr, Via, CSeq.

Rule: these functions take one header value as text (already unfolded,
without the name) and return plain objects, or raise SipSyntaxError. They
accept linear white space wherever RFC 3261 section 25 allows it and keep
parameter values as written (quoted strings keep their quotes; use
unquote() to read one). Objects serialise to a canonical form; the message
layer keeps the received text, so serialising is never needed to forward.
"""

from firmware.core.errors import SipSyntaxError
from firmware.core.uri import (
    Uri,
    check_host,
    is_digits,
    only_chars,
    parse_port,
    parse_uri,
)

COMPACT_FORMS = {
    "a": "Accept-Contact",
    "b": "Referred-By",
    "c": "Content-Type",
    "d": "Request-Disposition",
    "e": "Content-Encoding",
    "f": "From",
    "i": "Call-ID",
    "j": "Reject-Contact",
    "k": "Supported",
    "l": "Content-Length",
    "m": "Contact",
    "n": "Identity-Info",
    "o": "Event",
    "r": "Refer-To",
    "s": "Subject",
    "t": "To",
    "u": "Allow-Events",
    "v": "Via",
    "x": "Session-Expires",
    "y": "Identity",
}

# Canonical spellings that simple capitalisation of each word does not give.
_SPECIAL_NAMES = {
    "call-id": "Call-ID",
    "cseq": "CSeq",
    "www-authenticate": "WWW-Authenticate",
    "mime-version": "MIME-Version",
    "rack": "RAck",
    "rseq": "RSeq",
    "sip-etag": "SIP-ETag",
    "sip-if-match": "SIP-If-Match",
}

# Headers whose values are comma-separated lists (RFC 3261 7.3.1), by lower-case
# long name. Authentication headers and Date contain commas but are not lists.
LIST_HEADERS = (
    "via", "contact", "route", "record-route", "allow", "supported", "require",
    "proxy-require", "unsupported", "accept", "accept-encoding", "accept-language",
    "allow-events", "path", "service-route", "content-encoding", "content-language",
    "in-reply-to", "alert-info", "call-info", "error-info", "warning",
    "p-associated-uri", "history-info", "security-client", "security-server",
    "security-verify", "accept-contact", "reject-contact", "request-disposition",
    "reason", "p-asserted-identity", "p-preferred-identity",
)

TOKEN_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.!%*_+`'~"
# Characters that can never appear in an unquoted display name.
_DISPLAY_FORBIDDEN = "\",;:<>@\\?=/[]{}()"

_KEY_CACHE = {}
_KEY_CACHE_MAX = 256


def is_token(text):
    return bool(text) and not text.strip(TOKEN_CHARS)


def header_key(name):
    """Lower-case long form of a header name: the key every lookup compares."""
    key = _KEY_CACHE.get(name)
    if key is None:
        low = name.lower()
        long_form = COMPACT_FORMS.get(low)
        key = long_form.lower() if long_form else low
        if len(_KEY_CACHE) < _KEY_CACHE_MAX:
            _KEY_CACHE[name] = key
    return key


def canonical_name(name):
    """Canonical long form of a header name: 'v' -> 'Via', 'call-id' -> 'Call-ID'."""
    low = name.lower()
    long_form = COMPACT_FORMS.get(low)
    if long_form:
        return long_form
    special = _SPECIAL_NAMES.get(low)
    if special:
        return special
    return "-".join([w[:1].upper() + w[1:] for w in low.split("-")])


# --------------------------------------------------------------------------
# quoted strings and lists


def quoted_end(text, start):
    """Index of the quote closing the quoted string that opens at text[start]."""
    i = start + 1
    n = len(text)
    while i < n:
        c = text[i]
        if c == '"':
            return i
        if c == "\\":
            i += 1
        i += 1
    raise SipSyntaxError("unterminated quoted string")


def unquote(text):
    """Content of a quoted string with quoted-pairs resolved; other text unchanged."""
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        return text
    inner = text[1:-1]
    if "\\" not in inner:
        return inner
    out = []
    i = 0
    n = len(inner)
    while i < n:
        c = inner[i]
        if c == "\\" and i + 1 < n:
            i += 1
            c = inner[i]
        out.append(c)
        i += 1
    return "".join(out)


def quote(text):
    """text as a quoted string, escaping backslash and double quote."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _split_outside(text, sep, angles):
    """Split at sep, ignoring separators inside quoted strings (and <...>)."""
    parts = []
    start = 0
    depth = 0
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == '"':
            i = quoted_end(text, i)
        elif c == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
        elif angles and c == "<":
            depth += 1
        elif angles and c == ">" and depth:
            depth -= 1
        i += 1
    parts.append(text[start:])
    return parts


def split_list(text):
    """Comma-separated values, each stripped; commas in quotes or <...> do not split."""
    if '"' not in text and "<" not in text:
        return [p.strip(" \t") for p in text.split(",")]
    return [p.strip(" \t") for p in _split_outside(text, ",", True)]


def parse_params(text):
    """';name=value;flag' -> [[name, value], [flag, None]] (a leading ';' is optional)."""
    text = text.strip(" \t")
    if text[:1] == ";":
        text = text[1:]
    if '"' in text:
        items = _split_outside(text, ";", False)
    else:
        items = text.split(";")
    params = []
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip(" \t")
        if not is_token(name):
            raise SipSyntaxError("bad parameter name %r" % name)
        if sep:
            value = value.strip(" \t")
            if not value:
                raise SipSyntaxError("empty value for parameter " + name)
            if value[0] == '"':
                if quoted_end(value, 0) != len(value) - 1:
                    raise SipSyntaxError("junk after quoted parameter value")
            elif " " in value or "\t" in value or '"' in value:
                raise SipSyntaxError("white space inside parameter value")
            params.append([name, value])
        else:
            params.append([name, None])
    return params


def _find(params, name):
    low = name.lower()
    for i in range(len(params)):
        if params[i][0].lower() == low:
            return i
    return -1


def _set(params, name, value):
    if value is True:
        value = None
    elif value is not None and not isinstance(value, str):
        value = str(value)
    i = _find(params, name)
    if i < 0:
        params.append([name, value])
    else:
        params[i] = [name, value]


def _params_text(params):
    out = []
    for name, value in params:
        out.append(";" + name if value is None else ";" + name + "=" + value)
    return "".join(out)


class _Params:
    """Parameter access shared by NameAddr and Via."""

    __slots__ = ()

    def param(self, name, default=None):
        """Value of parameter ``name`` as written; '' for a flag; default if absent."""
        i = _find(self.params, name)
        if i < 0:
            return default
        value = self.params[i][1]
        return "" if value is None else value

    def has_param(self, name):
        return _find(self.params, name) >= 0

    def set_param(self, name, value=None):
        """Replace in place or append; value None (or True) makes a flag."""
        _set(self.params, name, value)

    def remove_param(self, name):
        i = _find(self.params, name)
        if i >= 0:
            del self.params[i]

    def __str__(self):
        return self.serialize()

    def __eq__(self, other):
        return type(other) is type(self) and self.serialize() == other.serialize()

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return hash(self.serialize())


# --------------------------------------------------------------------------
# name-addr / addr-spec (From, To, Contact, Route, Record-Route, ...)


class NameAddr(_Params):
    """[display-name] <uri> *(;param); also the addr-spec form without <>."""

    __slots__ = ("display", "uri", "params")

    def __init__(self, uri, display=None, params=None):
        self.uri = parse_uri(uri) if isinstance(uri, str) else uri
        self.display = display
        self.params = params if params is not None else []

    @property
    def tag(self):
        return self.param("tag")

    def copy(self):
        return NameAddr(self.uri.copy(), self.display, [list(p) for p in self.params])

    def serialize(self):
        head = "<" + self.uri.serialize() + ">"
        if self.display is not None:
            head = quote(self.display) + " " + head
        return head + _params_text(self.params) if self.params else head

    def __repr__(self):
        return "NameAddr(%r)" % self.serialize()


def parse_name_addr(text):
    s = text.strip(" \t")
    if not s:
        raise SipSyntaxError("empty address")
    display = None
    if s[0] == '"':
        end = quoted_end(s, 0)
        display = unquote(s[: end + 1])
        lt = s.find("<", end + 1)
        if lt < 0 or s[end + 1 : lt].strip(" \t"):
            raise SipSyntaxError("display name without <URI>")
    else:
        lt = s.find("<")
        semi = s.find(";")
        if lt >= 0 and (semi < 0 or lt < semi):
            words = s[:lt].strip(" \t")
            if words:
                for c in _DISPLAY_FORBIDDEN:
                    if c in words:
                        raise SipSyntaxError("display name needs quotes: %r" % words)
                display = words
        else:
            # addr-spec: the URI runs to the first ';', the rest are header parameters.
            uri_text = (s if semi < 0 else s[:semi]).rstrip(" \t")
            if "?" in uri_text or "," in uri_text:
                raise SipSyntaxError("URI with ? or , must be enclosed in <>")
            params = parse_params(s[semi:]) if semi >= 0 else []
            return NameAddr(parse_uri(uri_text), None, params)
    gt = s.find(">", lt)
    if gt < 0:
        raise SipSyntaxError("missing >")
    uri = parse_uri(s[lt + 1 : gt])
    rest = s[gt + 1 :].lstrip(" \t")
    if not rest:
        return NameAddr(uri, display, [])
    if rest[0] != ";":
        raise SipSyntaxError("junk after >")
    return NameAddr(uri, display, parse_params(rest))


def parse_name_addr_list(text):
    out = []
    for item in split_list(text):
        if not item:
            raise SipSyntaxError("empty element in address list")
        out.append(parse_name_addr(item))
    return out


def parse_contacts(text):
    """A Contact value: ['*'] or a list of NameAddr."""
    if text.strip(" \t") == "*":
        return ["*"]
    return parse_name_addr_list(text)


# --------------------------------------------------------------------------
# Via


class Via(_Params):
    """sent-protocol sent-by *(;param) (RFC 3261 20.42)."""

    __slots__ = ("protocol", "transport", "host", "port", "params")

    def __init__(self, transport, host, port=None, params=None, protocol="SIP/2.0"):
        self.protocol = protocol
        self.transport = transport
        self.host = host
        self.port = port
        self.params = params if params is not None else []

    @property
    def branch(self):
        return self.param("branch")

    @property
    def received(self):
        return self.param("received")

    @property
    def rport(self):
        """None (absent), True (flag, asking for the port) or the port number."""
        i = _find(self.params, "rport")
        if i < 0:
            return None
        value = self.params[i][1]
        if value is None:
            return True
        return int(value) if is_digits(value) else None

    @property
    def alias(self):
        """True when ;alias asks to reuse this connection (RFC 5923)."""
        return _find(self.params, "alias") >= 0

    def sent_by(self):
        if self.port is None:
            return self.host
        return "%s:%d" % (self.host, self.port)

    def copy(self):
        return Via(self.transport, self.host, self.port, [list(p) for p in self.params],
                   self.protocol)

    def serialize(self):
        head = self.protocol + "/" + self.transport + " " + self.sent_by()
        return head + _params_text(self.params) if self.params else head

    def __repr__(self):
        return "Via(%r)" % self.serialize()


def _first_ws(text):
    sp = text.find(" ")
    tab = text.find("\t")
    if sp < 0:
        return tab
    if tab < 0:
        return sp
    return sp if sp < tab else tab


def parse_via(text):
    parts = text.split("/", 2)
    if len(parts) != 3:
        raise SipSyntaxError("bad Via sent-protocol")
    name = parts[0].strip(" \t")
    version = parts[1].strip(" \t")
    rest = parts[2].lstrip(" \t")
    if not is_token(name) or not is_token(version):
        raise SipSyntaxError("bad Via protocol")
    ws = _first_ws(rest)
    if ws <= 0:
        raise SipSyntaxError("Via without sent-by")
    transport = rest[:ws]
    if not is_token(transport):
        raise SipSyntaxError("bad Via transport")
    rest = rest[ws:]
    semi = rest.find(";")
    if semi >= 0:
        hostport = rest[:semi].strip(" \t")
        params = parse_params(rest[semi:])
    else:
        hostport = rest.strip(" \t")
        params = []
    host, port = _via_hostport(hostport)
    return Via(transport.upper(), host, port, params, name.upper() + "/" + version)


def _via_hostport(text):
    # sent-by = host [ COLON port ], and COLON may carry white space around it.
    if text[:1] == "[":
        end = text.find("]")
        if end < 0:
            raise SipSyntaxError("unterminated IPv6 reference")
        host = text[: end + 1]
        tail = text[end + 1 :].lstrip(" \t")
    else:
        colon = text.find(":")
        if colon < 0:
            host, tail = text, ""
        else:
            host, tail = text[:colon].rstrip(" \t"), text[colon:]
    check_host(host)
    if not tail:
        return host, None
    if tail[0] != ":":
        raise SipSyntaxError("junk after Via host")
    return host, parse_port(tail[1:].lstrip(" \t"))


def parse_via_list(text):
    out = []
    for item in split_list(text):
        if not item:
            raise SipSyntaxError("empty Via value")
        out.append(parse_via(item))
    return out


# --------------------------------------------------------------------------
# scalar fields


def parse_cseq(text):
    """'4711 INVITE' -> (4711, 'INVITE'); the number must fit in 32 bits."""
    words = [w for w in text.replace("\t", " ").split(" ") if w]
    if len(words) != 2:
        raise SipSyntaxError("CSeq must be a number and a method")
    number, method = words
    if not is_digits(number) or len(number.lstrip("0")) > 10:
        raise SipSyntaxError("bad CSeq number")
    value = int(number)
    if value > 0xFFFFFFFF:
        raise SipSyntaxError("CSeq number too large")
    if not is_token(method):
        raise SipSyntaxError("bad CSeq method")
    return value, method


def parse_uint(text, limit):
    """A decimal integer 0..limit (Max-Forwards, Expires, Content-Length...)."""
    text = text.strip(" \t")
    if not is_digits(text) or len(text.lstrip("0")) > 10:
        raise SipSyntaxError("not a number: %r" % text)
    value = int(text)
    if value > limit:
        raise SipSyntaxError("number too large: %s" % text)
    return value


__all__ = (
    "COMPACT_FORMS", "LIST_HEADERS", "NameAddr", "SipSyntaxError", "TOKEN_CHARS", "Uri", "Via",
    "canonical_name", "header_key", "is_token", "only_chars", "parse_contacts", "parse_cseq",
    "parse_name_addr", "parse_name_addr_list", "parse_params", "parse_port", "parse_uint",
    "parse_via", "parse_via_list", "quote", "split_list", "unquote",
)
