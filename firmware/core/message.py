"""SIP messages as objects: Headers, Request, Response, serialising, make_response.

Rule: a message keeps every header line as text exactly as received (only
folding removed), in order; nothing is parsed until asked for. The
accessors (call_id, cseq, vias, top_via, from_addr, to_addr, contacts)
parse on first use and keep the result until the headers change; they
return copies, free to modify. serialize() is deterministic and always
writes Content-Length as the length of the body; parse(serialize(m)) == m.
A received message whose header section already reads as serialize()
writes it keeps those bytes, and serialises to them while unchanged.

Bytes become messages in firmware.core.parse (parse_message, within the
limits below); header text and bytes convert in firmware.core.wiretext;
SipSyntaxError, MessageError and the reason phrases live in
firmware.core.errors.
"""

from firmware.compat import const
from firmware.core.errors import SipSyntaxError, reason_phrase
from firmware.core.headers import (
    LIST_HEADERS,
    header_key,
    is_token,
    parse_contacts,
    parse_cseq,
    parse_name_addr,
    parse_via_list,
    split_list,
)
from firmware.core.uri import parse_uri
from firmware.core.wiretext import encode_text

MAX_MESSAGE_SIZE = const(65535)  # bytes in one message
MAX_HEADER_COUNT = const(256)  # header lines in one message
MAX_HEADER_LINE = const(8192)  # characters in one header line, folding removed

SIP_VERSION = "SIP/2.0"
_new = object.__new__  # received headers and messages skip their constructors' checks

# --------------------------------------------------------------------------
# Headers


def _as_value(value):
    if not isinstance(value, str):
        value = value.serialize() if hasattr(value, "serialize") else str(value)
    if "\r" in value or "\n" in value:
        raise ValueError("header value must not contain CR or LF")
    return value.strip(" \t")


def _line(name, value):
    if not is_token(name):
        raise ValueError("bad header name %r" % (name,))
    return name + ": " + _as_value(value)


def _name_of(line):
    return line[: line.find(":")].rstrip(" \t")


def _value_of(line):
    return line[line.find(":") + 1 :].strip(" \t")


class Headers:
    """Header fields in order, looked up case-insensitively.

    Compact names equal their long forms ('v' is 'Via'). Each field is kept
    as its header line (folding removed), so a received header serialises
    exactly as it came; iterating gives (name, value) pairs. get_all()
    splits list headers at commas; authentication headers and Date are
    never split.

    Layout: _lines holds the header lines, _keys their lookup keys
    (header_key of each name), _cache the accessors' parsed values, and
    _wire, for headers received (see received_headers) that read as
    serialize() writes them, (the bytes of the start line and header
    section through the empty line, the Content-Length they state, the
    start line as text). Every change clears _cache and _wire.
    """

    __slots__ = ("_lines", "_keys", "_cache", "_wire")

    def __init__(self, fields=None):
        self._lines = []
        self._keys = []
        self._cache = None
        self._wire = None
        if fields is not None:
            for name, value in fields:
                self.add(name, value)

    def get(self, name, default=None):
        """First value of the header, as received, or default."""
        key = header_key(name)
        keys = self._keys
        if key in keys:
            return _value_of(self._lines[keys.index(key)])
        return default

    def values(self, name):
        """Every value of the header, one per header line, not split."""
        key = header_key(name)
        keys = self._keys
        if keys.count(key) == 1:
            return [_value_of(self._lines[keys.index(key)])]
        lines = self._lines
        return [_value_of(lines[i]) for i in range(len(keys)) if keys[i] == key]

    def get_all(self, name):
        """Every value of the header; list headers are split at commas."""
        found = self.values(name)
        if header_key(name) not in LIST_HEADERS:
            return found
        out = []
        for value in found:
            for item in split_list(value):
                if item:
                    out.append(item)
        return out

    def count(self, name):
        return self._keys.count(header_key(name))

    def add(self, name, value):
        """Append a header line."""
        self._lines.append(_line(name, value))
        self._keys.append(header_key(name))
        self._cache = None
        self._wire = None

    def insert_first(self, name, value):
        """Insert before the first header of that name (at the top if there is none)."""
        key = header_key(name)
        keys = self._keys
        i = keys.index(key) if key in keys else 0
        self._lines.insert(i, _line(name, value))
        keys.insert(i, key)
        self._cache = None
        self._wire = None

    def set(self, name, value):
        """Replace every header of that name by one line where the first one was."""
        key = header_key(name)
        keys = self._keys
        if key not in keys:
            self.add(name, value)
            return
        first = keys.index(key)
        self._lines[first] = _line(name, value)
        self._drop(key, first + 1)
        self._cache = None
        self._wire = None

    def remove(self, name):
        """Remove every header of that name; return how many lines went."""
        before = len(self._keys)
        self._drop(header_key(name), 0)
        self._cache = None
        self._wire = None
        return before - len(self._keys)

    def _drop(self, key, start):
        keys = self._keys
        lines = self._lines
        i = len(keys) - 1
        while i >= start:
            if keys[i] == key:
                del keys[i]
                del lines[i]
            i -= 1

    def copy(self):
        new = Headers()
        new._lines = list(self._lines)
        new._keys = list(self._keys)
        new._wire = self._wire
        return new

    def items(self):
        return [(_name_of(line), _value_of(line)) for line in self._lines]

    def __contains__(self, name):
        return header_key(name) in self._keys

    def __iter__(self):
        for line in self._lines:
            yield (_name_of(line), _value_of(line))

    def __len__(self):
        return len(self._lines)

    def __eq__(self, other):
        return isinstance(other, Headers) and self.items() == other.items()

    def __ne__(self, other):
        return not self.__eq__(other)

    def __repr__(self):
        return "Headers(%r)" % (self.items(),)


def received_headers(lines, keys, wire=None):
    """Headers as the parser found them: lines (folding removed) with their keys,
    and the wire triple (see Headers) when the section reads as serialize() writes."""
    headers = _new(Headers)
    headers._lines = lines
    headers._keys = keys
    headers._cache = None
    headers._wire = wire
    return headers


def length_as_written(line, length):
    """True when serialize() writes this Content-Length line as it is."""
    colon = line.find(":")
    return line[colon + 1 :] == " " + str(length) and line[colon - 1] not in " \t"


def _as_headers(headers):
    if headers is None:
        return Headers()
    if isinstance(headers, Headers):
        return headers
    return Headers(headers)


# --------------------------------------------------------------------------
# messages


class _Message:
    """Accessors shared by Request and Response; parsed values are kept until
    the headers change, and the objects returned are copies, free to modify."""

    __slots__ = ()

    def _parsed(self, key):
        headers = self.headers
        cache = headers._cache
        if cache is None:
            cache = headers._cache = {}
        elif key in cache:
            return cache[key]
        values = headers.values(key)
        if not values:
            value = None
        elif key == "via":
            value = []
            for text in values:
                value.extend(parse_via_list(text))
        elif key == "contact":
            value = []
            for text in values:
                value.extend(parse_contacts(text))
        elif key == "cseq":
            value = parse_cseq(values[0])
        elif key == "call-id":
            value = values[0]
        else:
            value = parse_name_addr(values[0])
        cache[key] = value
        return value

    def call_id(self):
        return self._parsed("call-id")

    def cseq(self):
        """(number, METHOD)."""
        return self._parsed("cseq")

    def vias(self):
        found = self._parsed("via")
        return [v.copy() for v in found] if found else []

    def top_via(self):
        found = self._parsed("via")
        return found[0].copy() if found else None

    def from_addr(self):
        found = self._parsed("from")
        return found.copy() if found else None

    def to_addr(self):
        found = self._parsed("to")
        return found.copy() if found else None

    def contacts(self):
        """['*'] or a list of NameAddr (empty when there is no Contact)."""
        found = self._parsed("contact")
        if not found:
            return []
        return [c if c == "*" else c.copy() for c in found]

    def _serialize(self, start_line):
        body = self.body
        headers = self.headers
        wire = headers._wire
        if wire is not None and wire[2] == start_line and wire[1] == len(body):
            return wire[0] + body  # received and not changed since: the bytes as they came
        keys = headers._keys
        lines = headers._lines
        length = str(len(body))
        count = keys.count("content-length")
        if count == 0:
            text = "\r\n".join(lines)
            if text:
                text = start_line + "\r\n" + text + "\r\nContent-Length: " + length
            else:
                text = start_line + "\r\nContent-Length: " + length
        else:
            i = keys.index("content-length")
            lines = list(lines)
            lines[i] = _name_of(lines[i]) + ": " + length
            if count > 1:
                lines = [lines[k] for k in range(len(keys))
                         if k <= i or keys[k] != "content-length"]
            text = start_line + "\r\n" + "\r\n".join(lines)
        text += "\r\n\r\n"
        data = text.encode()
        if len(data) != len(text):
            data = encode_text(text)
        return data + body if body else data

    def _same(self, other):
        if type(other) is not type(self) or self.body != other.body:
            return False
        return _without_length(self.headers) == _without_length(other.headers)

    def __ne__(self, other):
        return not self.__eq__(other)


def _without_length(headers):
    keys = headers._keys
    lines = headers._lines
    return [(_name_of(lines[i]), _value_of(lines[i])) for i in range(len(keys))
            if keys[i] != "content-length"]


def _as_body(body):
    if type(body) is bytes:
        return body
    if isinstance(body, str):
        return body.encode()
    return bytes(body)


class Request(_Message):
    """A SIP request; uri is the Request-URI text as on the wire."""

    __slots__ = ("method", "uri", "version", "headers", "body", "_ruri")
    is_request = True

    def __init__(self, method, uri, headers=None, body=b""):
        self.method = method
        self.uri = uri if isinstance(uri, str) else uri.serialize()
        self.version = SIP_VERSION
        self.headers = _as_headers(headers)
        self.body = _as_body(body)
        self._ruri = None

    def request_uri(self):
        """The Request-URI parsed (a copy); raises SipSyntaxError if malformed."""
        cached = self._ruri
        if cached is None or cached[0] != self.uri:
            cached = self._ruri = (self.uri, parse_uri(self.uri))
        return cached[1].copy()

    def copy(self):
        new = Request(self.method, self.uri, self.headers.copy(), self.body)
        new.version = self.version
        return new

    def serialize(self):
        return self._serialize(self.method + " " + self.uri + " " + self.version)

    def __eq__(self, other):
        return (self._same(other) and self.method == other.method
                and self.uri == other.uri and self.version == other.version)

    def __repr__(self):
        return "<Request %s %s>" % (self.method, self.uri)


class Response(_Message):
    """A SIP response."""

    __slots__ = ("status", "reason", "version", "headers", "body")
    is_request = False

    def __init__(self, status, reason=None, headers=None, body=b""):
        self.status = status
        self.reason = reason_phrase(status) if reason is None else reason
        self.version = SIP_VERSION
        self.headers = _as_headers(headers)
        self.body = _as_body(body)

    def copy(self):
        new = Response(self.status, self.reason, self.headers.copy(), self.body)
        new.version = self.version
        return new

    def serialize(self):
        return self._serialize("%s %d %s" % (self.version, self.status, self.reason))

    def __eq__(self, other):
        return (self._same(other) and self.status == other.status
                and self.reason == other.reason and self.version == other.version)

    def __repr__(self):
        return "<Response %d %s>" % (self.status, self.reason)


def make_response(request, status, reason=None, to_tag=None, headers=None, body=b""):
    """A response to request (RFC 3261 8.2.6): Via (all), From, To, Call-ID and CSeq
    copied; to_tag is added when given and To has no tag. headers: extra
    (name, value) pairs appended after those."""
    src = request.headers
    out = Headers()
    lines = out._lines
    keys = out._keys
    for key, name in (("via", "Via"), ("from", "From"), ("to", "To"),
                      ("call-id", "Call-ID"), ("cseq", "CSeq")):
        values = src.values(key)
        if key != "via":
            values = values[:1]
        for value in values:
            if key == "to" and to_tag and not _has_tag(value):
                value = value + ";tag=" + to_tag
            lines.append(name + ": " + value)
            keys.append(key)
    if headers is not None:
        for name, value in headers:
            out.add(name, value)
    return Response(status, reason, out, body)


def _has_tag(to_value):
    try:
        return parse_name_addr(to_value).tag is not None
    except SipSyntaxError:
        return ";tag=" in to_value.replace(" ", "").lower()


__all__ = (
    "MAX_HEADER_COUNT", "MAX_HEADER_LINE", "MAX_MESSAGE_SIZE", "SIP_VERSION", "Headers",
    "Request", "Response", "length_as_written", "make_response", "received_headers",
)
