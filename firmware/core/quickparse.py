"""The parser's quick path: an ordinary SIP message taken apart fast, or no verdict.

Rule: parse_quick(data, stream) returns exactly the message the careful path
of firmware.core.parse would return for the same bytes, or None, and never
anything else: no error is ever named here. It takes only ordinary messages
(CRLF line ends, no folding, no repeated header that must be single, field
values in the plain forms the quick patterns of firmware.core.fieldcheck
accept); for anything else it steps aside and the careful path decides. It
runs only where those patterns do (QUICK is False on MicroPython).

KNOWN_PREFIXES maps the header names as commonly written, colon included, to
their lookup keys; both paths use it to read a name without a closer look.
"""

from firmware.core.fieldcheck import (
    QUICK_CONTACTS_LINE,
    QUICK_CSEQ_LINE,
    QUICK_NAME_ADDR_LINE,
    QUICK_NUMBER_LINE,
    QUICK_SIP_URI,
    QUICK_VIA_LINE,
    small_expires,
)
from firmware.core.headers import header_key, is_token
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
from firmware.core.wiretext import decode_text

# Header names as commonly written, colon included, and their lookup keys.
KNOWN_PREFIXES = {}
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
    KNOWN_PREFIXES[_name + ":"] = KNOWN_PREFIXES[_name.lower() + ":"] = header_key(_name)

QUICK = QUICK_VIA_LINE is not None
# Tables only the quick path reads, so built only where it runs.
_KNOWN_NAMES = {p[:-1]: key for p, key in KNOWN_PREFIXES.items()} if QUICK else None
_STATUS_CODES = {str(code): code for code in range(100, 700)} if QUICK else None
_KNOWN_METHODS = ("INVITE", "ACK", "BYE", "CANCEL", "REGISTER", "OPTIONS", "PRACK",
                  "UPDATE", "SUBSCRIBE", "NOTIFY", "REFER", "MESSAGE", "INFO", "PUBLISH")
# zip() and map() stop at their shortest argument: these serve any header count.
_INDEXES = range(MAX_HEADER_COUNT)
_COLONS = (":",) * MAX_HEADER_COUNT if QUICK else None
_new = object.__new__  # a parsed message skips the checks its constructor makes


def parse_quick(data, stream):
    """The message the careful path would return, when data (bytes) is an ordinary
    message; None when it is not, leaving the verdict to the careful path."""
    end = data.find(b"\r\n\r\n") + 4
    n = len(data)
    if end < 4 or end > MAX_HEADER_LINE or n > MAX_MESSAGE_SIZE:
        return None
    head = data[:end]
    try:
        text = head.decode()
    except UnicodeError:
        text = ""
    if len(text) != end:
        text = decode_text(head)
    lines = text.splitlines()  # the start line, the header lines, "" (the empty line)
    # splitlines() also breaks at a bare CR or LF (and a few rarer characters): every
    # break is a CRLF exactly when the lines and two characters per break make the text.
    if len("".join(lines)) + 2 * len(lines) != len(text) or len(lines) > MAX_HEADER_COUNT:
        return None
    start_line = lines[0]
    lines = lines[1:-1]
    msg = _start_line(start_line)
    if msg is None:
        return None
    method = msg.method if msg.is_request else None
    # Header names: a known name before the colon, else a plain token (a line without
    # a colon leaves partition's separator empty).
    known = _KNOWN_NAMES
    keys = [known.get(name) if colon else None
            for name, colon, _ in map(str.partition, lines, _COLONS)]
    if None in keys:
        for i in range(len(keys)):
            if keys[i] is None:
                name, colon, _ = lines[i].partition(":")
                name = name.rstrip(" \t")
                if not colon or not is_token(name):
                    return None  # also a folded line, which starts with white space
                keys[i] = header_key(name)
    # Where the checked headers are; of those only Via and Contact may repeat.
    last = dict(zip(keys, _INDEXES))  # noqa: B905 (MicroPython has no strict=)
    try:
        via = last["via"]
        from_ = last["from"]
        to = last["to"]
        call_id = last["call-id"]
        cseq = last["cseq"]
    except KeyError:
        return None  # a required header is missing
    get = last.get
    max_forwards = get("max-forwards")
    expires = get("expires")
    contact = get("contact")
    length_at = get("content-length")
    first_via = via
    first_contact = contact
    if len(last) != len(keys):
        index = keys.index
        if (index("from") != from_ or index("to") != to or index("call-id") != call_id
                or index("cseq") != cseq
                or (max_forwards is not None and index("max-forwards") != max_forwards)
                or (expires is not None and index("expires") != expires)
                or (length_at is not None and index("content-length") != length_at)):
            return None
        first_via = index("via")
        if contact is not None:
            first_contact = index("contact")
    # The values.
    if not QUICK_VIA_LINE(lines[via]):
        return None
    if first_via != via:
        for i in range(first_via, via):
            if keys[i] == "via" and not QUICK_VIA_LINE(lines[i]):
                return None
    if not QUICK_NAME_ADDR_LINE(lines[from_]) or not QUICK_NAME_ADDR_LINE(lines[to]):
        return None
    line = lines[call_id]
    value = line[line.find(":") + 1 :].strip(" \t")
    if not value or " " in value or "\t" in value:
        return None
    match = QUICK_CSEQ_LINE(lines[cseq])
    if match is None or (method is not None and match.group(1) != method):
        return None
    if max_forwards is not None:
        match = QUICK_NUMBER_LINE(lines[max_forwards])
        if match is None or len(match.group(1)) > 3 or int(match.group(1)) > 255:
            return None
    if expires is not None and not QUICK_NUMBER_LINE(lines[expires]):
        return None
    if contact is not None:
        line = lines[contact]
        if not QUICK_CONTACTS_LINE(line) or not small_expires(line):
            return None
        if first_contact != contact:
            for i in range(first_contact, contact):
                if keys[i] == "contact":
                    line = lines[i]
                    if not QUICK_CONTACTS_LINE(line) or not small_expires(line):
                        return None
    # The body (RFC 3261 18.3).
    wire = None
    if length_at is not None:
        line = lines[length_at]
        match = QUICK_NUMBER_LINE(line)
        if match is None:
            return None
        length = int(match.group(1))
        if length > n - end:
            return None
        msg.body = data[end : end + length] if length else b""
        if length_as_written(line, length):
            wire = (head, length, start_line)
    elif stream:
        return None
    else:
        msg.body = data[end:]
    msg.headers = received_headers(lines, keys, wire)
    return msg


def _start_line(line):
    """The message a plain start line opens, without headers yet; else None."""
    if line[:8] == "SIP/2.0 ":
        status = _STATUS_CODES.get(line[8:11])
        if status is None or (len(line) > 11 and line[11] != " "):
            return None
        msg = _new(Response)
        msg.status = status
        msg.reason = line[12:]
    else:
        method, _, rest = line.partition(" ")
        uri, _, version = rest.partition(" ")
        if (version != SIP_VERSION or (method not in _KNOWN_METHODS and not is_token(method))
                or not QUICK_SIP_URI(uri)):
            return None
        msg = _new(Request)
        msg.method = method
        msg.uri = uri
        msg._ruri = None
    msg.version = SIP_VERSION
    return msg


__all__ = ("KNOWN_PREFIXES", "QUICK", "parse_quick")
