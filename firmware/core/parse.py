"""Parsing SIP messages: bytes off the wire into a Request or a Response.

Rule: parse_message() returns a message or raises MessageError, and nothing
else, whatever the bytes; a MessageError names the response the stack
should send, or None when nothing must be sent. It splits the start line
and the header lines eagerly and keeps every header line exactly as
received (only folding removed), in order. It checks the headers a message
cannot do without (Via, From, To, Call-ID, CSeq, Contact, Max-Forwards,
Expires, Content-Length) so errors surface here, but builds no objects for
them: the accessors of the message do that on first use.

Two paths give one verdict. The quick path (firmware.core.quickparse) takes
an ordinary message and returns exactly what the careful path here would, or
steps aside. The careful path takes anything: bare LF line ends, folding,
leading CRLFs, odd white space, every limit of firmware.core.message; it
checks with the full field parsers, names the first problem found and
builds the MessageError. MicroPython always takes the careful path.
"""

from firmware.core.errors import MessageError, SipSyntaxError
from firmware.core.fieldcheck import check_contacts, check_name_addr, check_uri, check_via_list
from firmware.core.headers import header_key, is_token, parse_cseq, parse_uint, parse_via, split_list
from firmware.core.message import (
    MAX_HEADER_COUNT,
    MAX_HEADER_LINE,
    MAX_MESSAGE_SIZE,
    SIP_VERSION,
    Request,
    Response,
    length_as_written,
    received_headers,
)
from firmware.core.quickparse import KNOWN_PREFIXES, QUICK, parse_quick
from firmware.core.uri import is_digits
from firmware.core.wiretext import decode_text

_MAX_UINT32 = 0xFFFFFFFF
_SUPPORTED_SCHEMES = ("sip", "sips", "tel")
_new = object.__new__  # a parsed message skips the checks its constructor makes


def parse_message(data, stream=False):
    """Parse one SIP message; raise MessageError (and nothing else) if it is unusable.

    stream=False (datagram): the body runs to the end of the data unless
    Content-Length says less. stream=True: Content-Length is required.
    """
    try:
        if QUICK and type(data) is bytes:
            msg = parse_quick(data, stream)
            if msg is not None:
                return msg
        return _parse_careful(data, stream)
    except MessageError:
        raise
    except Exception as exc:  # a parser bug must never take the stack down
        raise MessageError(None, "Bad Request", "unparsable message (%r)" % (exc,)) from None


def _value(line):
    return line[line.find(":") + 1 :].strip(" \t")


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


def _parse_careful(data, stream):
    """The careful path: any bytes; a message, or the MessageError for the first problem."""
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
    # allowing for bare LFs. Only a header section taken as it is can be kept for
    # serialising.
    i = data.find(b"\r\n\r\n", start)
    head = None
    if i >= 0:
        head = data[start : i + 4]
        text = decode_text(head)
        lines = text.split("\r\n")
        count = len(lines) - 1
        if text.count("\n") == count and text.count("\r") == count:
            body_start = i + 4
            lines.pop()
            lines.pop()  # the empty line ending the header section
        else:
            i = -1
            head = None
    if i < 0:
        text, body_start = _head_lenient(data, start, stream, problem)
        lines = _split_lenient(text, problem)
    start_line = lines[0]
    msg = _start_line(start_line, problem)
    del lines[0]
    known = KNOWN_PREFIXES
    keys = [known.get(line[: line.find(":") + 1]) for line in lines]
    if None in keys or len(text) > MAX_HEADER_LINE:
        lines, keys = _header_lines(lines, problem)
        head = None
    if len(keys) > MAX_HEADER_COUNT:
        problem.note(413, "Request Entity Too Large - too many headers",
                     "%d header lines" % len(keys))
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
    wire = None
    if i is not None:
        line = lines[i]
        value = _value(line)
        if last["content-length"] != i:
            problem.note(400, _bad("duplicate Content-Length header"),
                         "more than one Content-Length")
        if is_digits(value) and len(value) < 10:
            length = int(value)
        else:
            try:
                length = parse_uint(value, _MAX_UINT32)
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
        if head is not None and length_as_written(line, length):
            wire = (head, length, start_line)
    elif stream:
        problem.note(400, _bad("missing Content-Length header"),
                     "a message on a stream needs Content-Length")
    elif available:
        msg.body = data[body_start:]
    msg.headers = received_headers(lines, keys, wire)
    if problem.status is None:
        if not is_request:
            return msg
        uri = msg.uri
        if uri[:4] == "sip:" or uri[:5] == "sips:":
            return msg
        scheme = uri[: uri.find(":")].lower()
        if scheme in _SUPPORTED_SCHEMES:
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
        if (len(code) != 3 or not is_digits(code) or not "1" <= code[0] <= "6"
                or (after and after[0] != " ")):
            problem.note(400, _bad("malformed status line"), "bad status code in %r" % line)
            status = 0
        else:
            status = int(code)
        msg = _new(Response)
        msg.status = status
        msg.reason = after[1:]
        msg.version = SIP_VERSION
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
    msg.body = b""
    msg._ruri = None
    if version != SIP_VERSION:
        msg.version = _version(version, problem, line)
    if not is_token(method):
        problem.note(400, _bad("malformed method"), "bad method %r" % method)
    try:
        check_uri(uri)
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
    """Header lines unfolded and checked, and their keys."""
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
        return [_value(lines[i])]
    return [_value(lines[k]) for k in range(i, last[key] + 1) if keys[k] == key]


def _check_headers(msg, lines, keys, first, last, problem):
    """Check the headers every message needs; return whether the top Via is usable."""
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
        value = _value(lines[i])
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
            limit = 255 if key == "max-forwards" else _MAX_UINT32
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


__all__ = ("parse_message",)
