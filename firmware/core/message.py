"""SIP messages: parse bytes into Request/Response objects and serialise them back.

Rule: parse_message() splits the start line and the header lines eagerly and
keeps every header line exactly as received (only folding removed), in
order. It checks the headers a message cannot do without (Via, From, To,
Call-ID, CSeq, Contact, Max-Forwards, Expires, Content-Length) so errors
surface there, but builds no objects for them: the accessors parse on first
use and keep the result until the headers change. Ordinary messages are
checked by the quick patterns of the headers module; anything unusual, or
an interpreter that cannot run them, goes through the full field parsers,
with the same verdict. Whatever the bytes, parse_message returns a message
or raises MessageError, which names the response the stack should send.
serialize() is deterministic and always writes Content-Length as the length
of the body; parse(serialize(m)) == m.

Header text may hold any bytes. UTF-8 is decoded as such; each byte that
is not part of valid UTF-8 becomes the private-use character U+F700+byte
(U+F780..U+F7FF), and encoding maps those characters back, so any header
survives parse and serialise byte for byte on CPython and MicroPython alike.
"""

from firmware.compat import const
from firmware.core.errors import REASON_PHRASES, MessageError, SipSyntaxError, reason_phrase
from firmware.core.headers import (
    LIST_HEADERS,
    QUICK_CONTACTS,
    QUICK_NAME_ADDR,
    QUICK_SIP_URI,
    QUICK_VIA_LIST,
    check_contacts,
    check_name_addr,
    check_via_list,
    header_key,
    is_token,
    parse_contacts,
    parse_cseq,
    parse_name_addr,
    parse_uint,
    parse_via,
    parse_via_list,
    small_expires,
    split_list,
)
from firmware.core.uri import is_digits, parse_uri

MAX_MESSAGE_SIZE = const(65535)
MAX_HEADER_COUNT = const(256)
MAX_HEADER_LINE = const(8192)
MAX_UINT32 = const(0xFFFFFFFF)

SIP_VERSION = "SIP/2.0"
SUPPORTED_SCHEMES = ("sip", "sips", "tel")

# --------------------------------------------------------------------------
# header text <-> bytes


def _decode_slow(data):
    out = []
    n = len(data)
    run = 0
    i = 0
    while i < n:
        b = data[i]
        if b < 0x80:
            i += 1
            continue
        need = 0
        lo = 0x80
        hi = 0xBF
        if 0xC2 <= b <= 0xDF:
            need = 1
        elif b == 0xE0:
            need, lo = 2, 0xA0
        elif 0xE1 <= b <= 0xEF:
            need = 2
            if b == 0xED:
                hi = 0x9F
        elif b == 0xF0:
            need, lo = 3, 0x90
        elif 0xF1 <= b <= 0xF3:
            need = 3
        elif b == 0xF4:
            need, hi = 3, 0x8F
        ok = need > 0 and i + need < n and lo <= data[i + 1] <= hi
        k = 2
        while ok and k <= need:
            ok = 0x80 <= data[i + k] <= 0xBF
            k += 1
        if ok and b == 0xEF and (data[i + 1] == 0x9E or data[i + 1] == 0x9F):
            ok = False  # U+F780..U+F7FF stand for raw bytes: never take them literally
        if ok:
            i += need + 1
            continue
        if run < i:
            out.append(data[run:i].decode())
        out.append(chr(0xF700 + b))
        i += 1
        run = i
    if run < n:
        out.append(data[run:].decode())
    return "".join(out)


def decode_text(data):
    """bytes -> str, reversibly (see the module rule); identical on every interpreter."""
    try:
        text = data.decode()
        if len(text) == len(data):
            return text  # pure ASCII
    except Exception:
        pass
    return _decode_slow(data)


def encode_text(text):
    """str -> bytes, the inverse of decode_text()."""
    data = text.encode()
    if len(data) == len(text) or (b"\xef\x9e" not in data and b"\xef\x9f" not in data):
        return data
    out = bytearray()
    for char in text:
        code = ord(char)
        if 0xF780 <= code <= 0xF7FF:
            out.append(code - 0xF700)
        else:
            out.extend(char.encode())
    return bytes(out)


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
    """

    __slots__ = ("_lines", "_keys", "_cache")

    def __init__(self, fields=None):
        self._lines = []
        self._keys = []
        self._cache = None
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

    def insert_first(self, name, value):
        """Insert before the first header of that name (at the top if there is none)."""
        key = header_key(name)
        keys = self._keys
        i = keys.index(key) if key in keys else 0
        self._lines.insert(i, _line(name, value))
        keys.insert(i, key)
        self._cache = None

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

    def remove(self, name):
        """Remove every header of that name; return how many lines went."""
        before = len(self._keys)
        self._drop(header_key(name), 0)
        self._cache = None
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


# --------------------------------------------------------------------------
# parsing


def _bad(what):
    return "Bad Request - " + what


class _Problem:
    """The first thing found wrong with a message being parsed."""

    __slots__ = ("status", "reason", "detail")

    def __init__(self):
        self.status = None

    def note(self, status, reason, detail):
        if self.status is None:
            self.status = status
            self.reason = reason
            self.detail = detail


# Header names as commonly written, colon included, with their lookup keys: when
# every line of a message starts with one, no line needs a closer look.
_KNOWN_NAMES = {}
for _name in ("Via", "From", "To", "Call-ID", "CSeq", "Contact", "Max-Forwards",
              "Content-Length", "Content-Type", "Expires", "Allow", "Supported", "Require",
              "Route", "Record-Route", "User-Agent", "Server", "Authorization",
              "WWW-Authenticate", "Proxy-Authorization", "Proxy-Authenticate", "Date",
              "Subject", "Accept", "Event", "Allow-Events", "Session-Expires", "Min-SE",
              "RSeq", "RAck", "Call-Id", "Cseq", "Max-forwards", "Content-length",
              "Content-type", "Record-route", "User-agent", "Organization", "Warning",
              "Privacy", "P-Asserted-Identity", "Reason", "Refer-To", "Path",
              "Service-Route", "Subscription-State", "Accept-Language", "Unsupported",
              "Proxy-Require", "Content-Disposition", "Retry-After", "Timestamp",
              "v", "f", "t", "i", "m", "l", "c", "k", "s", "o", "u", "e", "x", "r", "b"):
    _KNOWN_NAMES[_name + ":"] = header_key(_name)
    _KNOWN_NAMES[_name.lower() + ":"] = header_key(_name)
_new = object.__new__  # a parsed message skips the checks its constructor makes
_KNOWN_METHODS = ("INVITE", "ACK", "BYE", "CANCEL", "REGISTER", "OPTIONS", "PRACK",
                  "UPDATE", "SUBSCRIBE", "NOTIFY", "REFER", "MESSAGE", "INFO", "PUBLISH")


def parse_message(data, stream=False):
    """Parse one SIP message; raise MessageError (and nothing else) if it is unusable.

    stream=False (datagram): the body runs to the end of the data unless
    Content-Length says less. stream=True: Content-Length is required.
    """
    try:
        return _parse(data, stream)
    except MessageError:
        raise
    except Exception as exc:  # a parser bug must never take the stack down
        raise MessageError(None, "Bad Request", "unparsable message (%r)" % (exc,)) from None


def _parse(data, stream):
    if type(data) is not bytes:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise MessageError(None, "Bad Request", "message must be bytes")
        data = bytes(data)
    problem = _Problem()
    n = len(data)
    if n > MAX_MESSAGE_SIZE:
        problem.note(413, "Request Entity Too Large",
                     "message larger than %d bytes" % MAX_MESSAGE_SIZE)
        data = data[:MAX_MESSAGE_SIZE]
        n = MAX_MESSAGE_SIZE
    start = 0
    if n and (data[0] == 13 or data[0] == 10):
        while start < n and (data[start] == 13 or data[start] == 10):
            start += 1  # RFC 3261 7.5: CRLFs before the start line are ignored
    if start == n:
        raise MessageError(None, "Bad Request", "empty message")
    # The header section ends at the first empty line. The usual CRLF CRLF is found
    # first; if the header text then shows a bare CR or LF, the search is redone
    # allowing for bare LFs.
    i = data.find(b"\r\n\r\n", start)
    if i >= 0:
        text = decode_text(data[start:i])
        lines = text.split("\r\n")
        count = len(lines) - 1
        if text.count("\n") == count and text.count("\r") == count:
            body_start = i + 4
        else:
            i = -1
    if i < 0:
        text, body_start = _head_lenient(data, start, stream, problem)
        lines = _split_lenient(text, problem)
    msg = _start_line(lines[0], problem)
    del lines[0]
    known = _KNOWN_NAMES
    keys = [known.get(line[: line.find(":") + 1]) for line in lines]
    if None in keys or len(text) > MAX_HEADER_LINE:
        lines, keys = _header_lines(lines, problem)
    if len(keys) > MAX_HEADER_COUNT:
        problem.note(413, "Request Entity Too Large - too many headers",
                     "%d header lines" % len(keys))
    headers = msg.headers
    headers._lines = lines
    headers._keys = keys
    is_request = msg.is_request
    # Where each header is first and last: duplicates show as first != last.
    last = dict(zip(keys, range(len(keys))))  # noqa: B905 (MicroPython has no strict=)
    if len(last) == len(keys):
        first = last
    else:
        first = {}
        for i in range(len(keys) - 1, -1, -1):
            first[keys[i]] = i
    via_ok = _check_headers(msg, lines, keys, first, last, problem)
    # The body (RFC 3261 18.3).
    available = n - body_start
    i = first.get("content-length")
    if i is not None:
        line = lines[i]
        value = line[line.find(":") + 1 :].strip(" \t")
        if last["content-length"] != i:
            problem.note(400, _bad("duplicate Content-Length header"),
                         "more than one Content-Length")
        if is_digits(value) and len(value) < 10:
            length = int(value)
        else:
            try:
                length = parse_uint(value, MAX_UINT32)
            except SipSyntaxError:
                problem.note(400, _bad("malformed Content-Length header"),
                             "Content-Length is not a non-negative number")
                length = 0
        if length > MAX_MESSAGE_SIZE:
            problem.note(413, "Request Entity Too Large",
                         "Content-Length %d too large" % length)
        elif length > available:
            problem.note(400, _bad("Content-Length larger than body"),
                         "Content-Length %d but %d bytes of body" % (length, available))
        elif length:
            msg.body = data[body_start : body_start + length]
    elif stream:
        problem.note(400, _bad("missing Content-Length header"),
                     "a message on a stream needs Content-Length")
    elif available:
        msg.body = data[body_start:]
    if problem.status is None:
        if not is_request:
            return msg
        uri = msg.uri
        if uri[:4] == "sip:" or uri[:5] == "sips:":
            return msg
        scheme = uri[: uri.find(":")].lower()
        if scheme in SUPPORTED_SCHEMES:
            return msg
        problem.note(416, "Unsupported URI Scheme",
                     "Request-URI scheme %r not supported" % scheme)
    if not is_request:
        raise MessageError(None, problem.reason, problem.detail)
    if not via_ok:
        raise MessageError(None, problem.reason, problem.detail + " (no usable Via: no answer)")
    raise MessageError(problem.status, problem.reason, problem.detail, msg)


def _head_lenient(data, start, stream, problem):
    """(header text, body start) where lines may end in a bare LF."""
    n = len(data)
    i = data.find(b"\n\r\n", start)
    j = data.find(b"\n\n", start)
    if i >= 0 and (j < 0 or i < j):
        body_start = i + 3
    elif j >= 0:
        i = j
        body_start = j + 2
    else:
        # A datagram may end right after its last header line: the packet ends the
        # header section. Anything else without the empty line is cut short.
        if stream or data[n - 1] != 10:
            problem.note(400, _bad("incomplete header section"),
                         "no empty line ends the header section")
        i = n - 1 if data[n - 1] == 10 else n
        body_start = n
    if i > start and data[i - 1] == 13:
        i -= 1
    return decode_text(data[start:i]), body_start


def _split_lenient(text, problem):
    """Header lines ended by CRLF or by a bare LF; a bare CR is an error."""
    out = []
    for line in text.split("\n"):
        if line[-1:] == "\r":
            line = line[:-1]
        if "\r" in line:
            problem.note(400, _bad("bare CR in header"), "CR without LF in the header section")
            line = line.replace("\r", " ")
        out.append(line)
    return out


def _start_line(line, problem):
    if line[:4].upper() == "SIP/":
        version, _, rest = line.partition(" ")
        code = rest[:3]
        after = rest[3:]
        if (not is_digits(code) or not "1" <= code[0] <= "6" or (after and after[0] != " ")):
            problem.note(400, _bad("malformed status line"), "bad status code in %r" % line)
            status = 0
        else:
            status = int(code)
        msg = _new(Response)
        msg.status = status
        msg.reason = after[1:]
        msg.version = SIP_VERSION
        msg.headers = _new(Headers)
        msg.headers._cache = None
        msg.body = b""
        if version != SIP_VERSION:
            msg.version = _version(version, problem, line)
        return msg
    words = line.split(" ")
    if len(words) != 3 or not words[0] or not words[1]:
        # Extra spaces between the elements are tolerated (RFC 4475 3.1.2.9, 3.1.2.10).
        words = [w for w in words if w]
        if len(words) != 3:
            problem.note(400, _bad("malformed Request-Line"),
                         "Request-Line needs method, Request-URI and version: %r" % line)
            words = (words + ["", "", ""])[:3]
            if words[2][:4].upper() != "SIP/":
                words[2] = SIP_VERSION
    method, uri, version = words
    msg = _new(Request)
    msg.method = method
    msg.uri = uri
    msg.version = SIP_VERSION
    msg.headers = _new(Headers)
    msg.headers._cache = None
    msg.body = b""
    msg._ruri = None
    if version != SIP_VERSION:
        msg.version = _version(version, problem, line)
    if method not in _KNOWN_METHODS and not is_token(method):
        problem.note(400, _bad("malformed method"), "bad method %r" % method)
    if QUICK_SIP_URI is None or not QUICK_SIP_URI(uri):
        try:
            parse_uri(uri)
        except SipSyntaxError as exc:
            problem.note(400, _bad("malformed Request-URI"), str(exc))
    return msg


def _version(version, problem, line):
    major, dot, minor = version[4:].partition(".")
    if version[:4].upper() != "SIP/" or not dot or not is_digits(major) or not is_digits(minor):
        problem.note(400, _bad("malformed SIP version"), "bad version in %r" % line)
        return version
    if int(major) != 2 or int(minor) != 0:
        problem.note(505, "Version Not Supported", "SIP version %s" % version)
        return version
    return SIP_VERSION


def _header_lines(raw, problem):
    """Header lines unfolded and checked, and their keys: the careful path."""
    lines = []
    keys = []
    broken = 0  # len(lines) after the last bad line: nothing to fold onto
    for line in raw:
        if len(line) > MAX_HEADER_LINE:
            problem.note(413, "Request Entity Too Large - header line too long",
                         "header line of %d characters" % len(line))
            broken = len(lines)
            continue
        first = line[:1]
        if first == " " or first == "\t":
            if len(lines) == broken:
                problem.note(400, _bad("continuation without a header"),
                             "folded line without a header")
            else:
                folded = lines[-1] + line
                if len(folded) > MAX_HEADER_LINE:
                    problem.note(413, "Request Entity Too Large - header too long",
                                 "folded header of %d characters" % len(folded))
                    folded = lines[-1]
                lines[-1] = folded
            continue
        colon = line.find(":")
        if colon < 0:
            problem.note(400, _bad("malformed header line"), "no colon in %r" % line[:80])
            broken = len(lines)
            continue
        name = line[:colon].rstrip(" \t")
        if not is_token(name):
            problem.note(400, _bad("malformed header name"), "bad header name %r" % name[:80])
            broken = len(lines)
            continue
        lines.append(line)
        keys.append(header_key(name))
    return lines, keys


def _values(lines, keys, key, first, last):
    i = first[key]
    if last[key] == i:
        line = lines[i]
        return [line[line.find(":") + 1 :].strip(" \t")]
    return [_value_of(lines[k]) for k in range(i, last[key] + 1) if keys[k] == key]


def _quick_check(msg, lines, first, last):
    """True when an ordinary message passes every check the quick way; False means
    only that _check_headers must look closer."""
    if QUICK_VIA_LIST is None:
        return False
    try:
        via = first["via"]
        from_ = first["from"]
        to = first["to"]
        call_id = first["call-id"]
        cseq = first["cseq"]
    except KeyError:
        return False
    if (last["via"] != via or last["from"] != from_ or last["to"] != to
            or last["call-id"] != call_id or last["cseq"] != cseq):
        return False
    line = lines[via]
    if not QUICK_VIA_LIST(line[line.find(":") + 1 :].strip(" \t")):
        return False
    line = lines[from_]
    if not QUICK_NAME_ADDR(line[line.find(":") + 1 :].strip(" \t")):
        return False
    line = lines[to]
    if not QUICK_NAME_ADDR(line[line.find(":") + 1 :].strip(" \t")):
        return False
    line = lines[call_id]
    value = line[line.find(":") + 1 :].strip(" \t")
    if not value or " " in value or "\t" in value:
        return False
    line = lines[cseq]
    number, sp, method = line[line.find(":") + 1 :].strip(" \t").partition(" ")
    if not sp or not is_digits(number) or len(number) > 9:
        return False
    if method != msg.method if msg.is_request else not is_token(method):
        return False
    i = first.get("max-forwards")
    if i is not None:
        line = lines[i]
        value = line[line.find(":") + 1 :].strip(" \t")
        if last["max-forwards"] != i or not is_digits(value) or len(value) > 3 or int(value) > 255:
            return False
    i = first.get("expires")
    if i is not None:
        line = lines[i]
        value = line[line.find(":") + 1 :].strip(" \t")
        if last["expires"] != i or not is_digits(value) or len(value) > 9:
            return False
    i = first.get("contact")
    if i is not None:
        if last["contact"] != i:
            return False
        line = lines[i]
        value = line[line.find(":") + 1 :].strip(" \t")
        if not QUICK_CONTACTS(value) or not small_expires(value):
            return False
    return True


def _check_headers(msg, lines, keys, first, last, problem):
    """Check the headers every message needs; return whether the top Via is usable."""
    if _quick_check(msg, lines, first, last):
        return True
    via_ok = False
    if "via" in first:
        values = _values(lines, keys, "via", first, last)
        try:
            for value in values:
                check_via_list(value)
            via_ok = True
        except SipSyntaxError as exc:
            problem.note(400, _bad("malformed Via header"), str(exc))
            via_ok = _top_via_usable(values[0])
    else:
        problem.note(400, _bad("missing Via header"), "no Via header")
    for key, name in _SINGLE_HEADERS:
        i = first.get(key)
        if i is None:
            if key in _REQUIRED:
                problem.note(400, _bad("missing %s header" % name), "no %s header" % name)
            continue
        if last[key] != i:
            problem.note(400, _bad("duplicate %s header" % name), "more than one " + name)
        line = lines[i]
        value = line[line.find(":") + 1 :].strip(" \t")
        if key == "cseq":
            number, sp, method = value.partition(" ")
            if not (sp and is_digits(number) and len(number) < 10 and
                    (method == msg.method if msg.is_request else is_token(method))):
                try:
                    method = parse_cseq(value)[1]
                    if msg.is_request and method != msg.method:
                        problem.note(400, _bad("CSeq method does not match"),
                                     "CSeq method %s in a %s request" % (method, msg.method))
                except SipSyntaxError as exc:
                    problem.note(400, _bad("malformed CSeq header"), str(exc))
        elif key == "call-id":
            if not value or " " in value or "\t" in value:
                problem.note(400, _bad("malformed Call-ID header"), "bad Call-ID %r" % value)
        elif key == "max-forwards" or key == "expires":
            limit = 255 if key == "max-forwards" else MAX_UINT32
            if not (is_digits(value) and len(value) < 4 and int(value) <= limit):
                try:
                    parse_uint(value, limit)
                except SipSyntaxError as exc:
                    problem.note(400, _bad("malformed %s header" % name), str(exc))
        else:
            try:
                check_name_addr(value)
            except SipSyntaxError as exc:
                problem.note(400, _bad("malformed %s header" % name), str(exc))
    if "contact" in first:
        values = _values(lines, keys, "contact", first, last)
        try:
            stars = 0
            for value in values:
                stars += check_contacts(value)
            if stars and (len(values) > 1 or len(split_list(values[0])) > 1):
                raise SipSyntaxError("Contact * must stand alone")
        except SipSyntaxError as exc:
            problem.note(400, _bad("malformed Contact header"), str(exc))
    return via_ok


# Headers that must appear at most once, checked in this order.
_SINGLE_HEADERS = (("from", "From"), ("to", "To"), ("call-id", "Call-ID"), ("cseq", "CSeq"),
                   ("max-forwards", "Max-Forwards"), ("expires", "Expires"))
_REQUIRED = ("from", "to", "call-id", "cseq")


def _top_via_usable(text):
    """True when the sent-protocol and sent-by of the first Via value can be read."""
    first = text
    for sep in (",", ";"):
        cut = first.find(sep)
        if cut >= 0:
            first = first[:cut]
    try:
        parse_via(first)
        return True
    except SipSyntaxError:
        return False


__all__ = (
    "MAX_HEADER_COUNT", "MAX_HEADER_LINE", "MAX_MESSAGE_SIZE", "REASON_PHRASES", "SIP_VERSION",
    "Headers", "MessageError", "Request", "Response", "SipSyntaxError", "decode_text",
    "encode_text", "make_response", "parse_message", "reason_phrase",
)
