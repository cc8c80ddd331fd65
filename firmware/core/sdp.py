"""Session descriptions (RFC 4566): the SDP grammar.

Rule: ``parse_sdp`` turns bytes into a ``SessionDescription`` or raises
``SdpError(400)``, never anything else; ``serialize`` writes it back with CRLF
line ends in RFC 4566 order, keeping lines it does not interpret. This module
only reads and writes SDP; what a phone offers and answers (codecs, hold) is
decided in ``offeranswer``.
"""

DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")

# RFC 3551 static payload types, used when an m-line names one without rtpmap.
STATIC_PAYLOADS = {
    0: ("PCMU", 8000, 1),
    3: ("GSM", 8000, 1),
    4: ("G723", 8000, 1),
    8: ("PCMA", 8000, 1),
    9: ("G722", 8000, 1),
    13: ("CN", 8000, 1),
    18: ("G729", 8000, 1),
}

# RFC 4566 section 5: the order of the line types at each level.
_SESSION_ORDER = "vosiuepcbtrzka"
_MEDIA_ORDER = "mickba"
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_DIGITS = "0123456789"
# Origin numbers are 64-bit in practice; longer digit runs are garbage.
_MAX_NUMBER_DIGITS = 20


class SdpError(Exception):
    """``status`` is the SIP response to send: 400 (malformed) or 488 (not acceptable)."""

    def __init__(self, status, reason):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _is_number(text, max_digits=_MAX_NUMBER_DIGITS):
    if not text or len(text) > max_digits:
        return False
    for ch in text:
        if ch not in _DIGITS:
            return False
    return True


def _number(text, what, max_digits=_MAX_NUMBER_DIGITS):
    if not _is_number(text, max_digits):
        raise SdpError(400, "Bad SDP: %s %r is not a number" % (what, text[:24]))
    return int(text)


def _parse_ptime(text):
    text = text.strip()
    whole, dot, fraction = text.partition(".")
    if not _is_number(whole, 6) or (dot and not _is_number(fraction, 6)):
        raise SdpError(400, "Bad SDP: ptime %r" % text[:24])
    if dot and int(fraction) != 0:
        value = float(text)
    else:
        value = int(whole)
    if value <= 0:
        raise SdpError(400, "Bad SDP: ptime %r" % text[:24])
    return value


def _address_type(address):
    return "IP6" if ":" in address else "IP4"


class Connection:
    """A ``c=`` line: ``address`` without brackets, ``suffix`` the raw '/ttl...' part."""

    __slots__ = ("net_type", "addr_type", "address", "suffix")

    def __init__(self, address, addr_type=None, net_type="IN", suffix=""):
        self.net_type = net_type
        self.addr_type = addr_type or _address_type(address)
        self.address = address
        self.suffix = suffix

    def serialize(self):
        return "%s %s %s%s" % (self.net_type, self.addr_type, self.address, self.suffix)

    def __repr__(self):
        return "Connection(%s)" % self.serialize()


def _parse_connection(value):
    fields = value.split()
    if len(fields) != 3:
        raise SdpError(400, "Bad SDP: c=%s" % value[:40])
    address, slash, rest = fields[2].partition("/")
    if address.startswith("[") and address.endswith("]"):
        # Some stacks bracket IPv6 as in SIP; SDP has none.
        address = address[1:-1]
    if not address:
        raise SdpError(400, "Bad SDP: c= without address")
    return Connection(address, fields[1], fields[0], slash + rest)


class MediaDescription:
    """One ``m=`` section.

    ``formats`` holds payload type ints for RTP profiles and the raw strings
    otherwise (e.g. ['t38'] for image/udptl). ``rtpmap`` is an ordered list of
    (pt, name, rate, channels) and ``fmtp`` of (pt, parameters); ``direction``
    is the effective one (inherited from the session when the section has
    none); ``connection`` is the section's own ``c=`` or None; ``attributes``
    keeps the other ``a=`` lines as (name, value|None) and ``lines`` the other
    line types as (type, value), both in order.
    """

    __slots__ = ("media", "port", "port_count", "proto", "formats", "rtpmap", "fmtp", "ptime",
                 "direction", "connection", "attributes", "lines")

    def __init__(self, media, port, proto, formats=None):
        self.media = media
        self.port = port
        self.port_count = None
        self.proto = proto
        self.formats = formats if formats is not None else []
        self.rtpmap = []
        self.fmtp = []
        self.ptime = None
        self.direction = "sendrecv"
        self.connection = None
        self.attributes = []
        self.lines = []

    @property
    def is_rtp(self):
        return "RTP/" in self.proto.upper()

    def codec(self, pt):
        """(name, rate, channels) for payload type ``pt``, from rtpmap or the static table."""
        for entry in self.rtpmap:
            if entry[0] == pt:
                return (entry[1], entry[2], entry[3])
        return STATIC_PAYLOADS.get(pt)

    def fmtp_for(self, pt):
        for entry in self.fmtp:
            if entry[0] == pt:
                return entry[1]
        return None

    def attribute(self, name, default=None):
        for key, value in self.attributes:
            if key == name:
                return value
        return default

    def _serialize(self, out):
        port = str(self.port)
        if self.port_count is not None:
            port += "/%d" % self.port_count
        fields = [self.media, port, self.proto]
        for fmt in self.formats:
            fields.append(str(fmt))
        out.append("m=" + " ".join(fields))
        for kind in _MEDIA_ORDER[1:]:
            if kind == "c":
                if self.connection is not None:
                    out.append("c=" + self.connection.serialize())
            elif kind == "a":
                _unknown_lines(self.lines, _MEDIA_ORDER, out)
                for pt, name, rate, channels in self.rtpmap:
                    text = "a=rtpmap:%d %s" % (pt, name)
                    if rate is not None:
                        text += "/%d" % rate
                    if channels is not None:
                        text += "/%d" % channels
                    out.append(text)
                for pt, params in self.fmtp:
                    out.append("a=fmtp:%s %s" % (pt, params))
                if self.ptime is not None:
                    out.append("a=ptime:%s" % self.ptime)
                _attribute_lines(self.attributes, out)
                if self.port != 0:
                    # A rejected stream needs no attributes (RFC 3264 6).
                    out.append("a=" + self.direction)
            else:
                _known_lines(self.lines, kind, out)

    def __repr__(self):
        return "MediaDescription(%s %d %s %s %s)" % (
            self.media, self.port, self.proto, " ".join([str(f) for f in self.formats]),
            self.direction)


class SessionDescription:
    """A parsed SDP body; ``serialize()`` gives it back as bytes."""

    __slots__ = ("origin_username", "session_id", "session_version", "origin_net_type",
                 "origin_addr_type", "origin_address", "session_name", "connection", "timing",
                 "direction", "attributes", "lines", "media")

    def __init__(self, origin_address="0.0.0.0", session_id="0", session_version=0):
        self.origin_username = "-"
        self.session_id = str(session_id)
        self.session_version = session_version
        self.origin_net_type = "IN"
        self.origin_addr_type = _address_type(origin_address)
        self.origin_address = origin_address
        self.session_name = "-"
        self.connection = None
        self.timing = []
        self.direction = None
        self.attributes = []
        self.lines = []
        self.media = []

    def media_connection(self, media):
        """The connection that applies to ``media``: its own or the session's."""
        return media.connection if media.connection is not None else self.connection

    def attribute(self, name, default=None):
        for key, value in self.attributes:
            if key == name:
                return value
        return default

    def serialize(self):
        out = []
        for kind in _SESSION_ORDER:
            if kind == "v":
                out.append("v=0")
            elif kind == "o":
                out.append("o=%s %s %d %s %s %s" % (
                    self.origin_username, self.session_id, self.session_version,
                    self.origin_net_type, self.origin_addr_type, self.origin_address))
            elif kind == "s":
                out.append("s=" + (self.session_name or "-"))
            elif kind == "c":
                if self.connection is not None:
                    out.append("c=" + self.connection.serialize())
            elif kind == "t":
                for timing in self.timing or ["0 0"]:
                    out.append("t=" + timing)
            elif kind == "a":
                _unknown_lines(self.lines, _SESSION_ORDER, out)
                _attribute_lines(self.attributes, out)
                if self.direction is not None:
                    out.append("a=" + self.direction)
            else:
                _known_lines(self.lines, kind, out)
        for media in self.media:
            media._serialize(out)
        out.append("")
        return "\r\n".join(out).encode()

    def __repr__(self):
        return "SessionDescription(o=%s %s, %d media)" % (
            self.session_id, self.session_version, len(self.media))


def _known_lines(lines, kind, out):
    for line_kind, value in lines:
        if line_kind == kind:
            out.append(line_kind + "=" + value)


def _unknown_lines(lines, order, out):
    for line_kind, value in lines:
        if line_kind not in order:
            out.append(line_kind + "=" + value)


def _attribute_lines(attributes, out):
    for name, value in attributes:
        out.append("a=" + name if value is None else "a=%s:%s" % (name, value))


def _decode(data):
    if isinstance(data, str):
        return data
    if not isinstance(data, (bytes, bytearray)):
        raise SdpError(400, "Bad SDP: not bytes")
    try:
        text = bytes(data).decode()
    except UnicodeError:
        text = None
    if text is None:
        raise SdpError(400, "Bad SDP: not UTF-8")
    return text


def parse_sdp(data):
    """Parse an SDP body (bytes); raises SdpError(400) when it is malformed."""
    text = _decode(data)
    session = None
    media = None
    have_origin = False
    for raw in text.split("\n"):
        line = raw[:-1] if raw.endswith("\r") else raw
        if not line.strip():
            continue
        if len(line) < 2 or line[1] != "=" or line[0] not in _LETTERS:
            raise SdpError(400, "Bad SDP: line %r" % line[:40])
        kind = line[0]
        value = line[2:]
        if session is None:
            if kind != "v":
                raise SdpError(400, "Bad SDP: does not start with v=")
            if value.strip() != "0":
                raise SdpError(400, "Bad SDP: version %r" % value[:8])
            session = SessionDescription()
            continue
        if kind == "o":
            if have_origin or media is not None:
                raise SdpError(400, "Bad SDP: misplaced o= line")
            _parse_origin(session, value)
            have_origin = True
        elif kind == "m":
            media = _parse_media_line(value)
            media.direction = session.direction or "sendrecv"
            session.media.append(media)
        elif media is None:
            _parse_session_line(session, kind, value)
        else:
            _parse_media_attribute_or_line(media, kind, value)
    if session is None:
        raise SdpError(400, "Bad SDP: empty")
    if not have_origin:
        raise SdpError(400, "Bad SDP: no o= line")
    for media in session.media:
        if media.port != 0 and session.media_connection(media) is None:
            raise SdpError(400, "Bad SDP: no c= for %s stream" % media.media)
    return session


def _parse_origin(session, value):
    fields = value.split()
    if len(fields) != 6:
        raise SdpError(400, "Bad SDP: o=%s" % value[:40])
    session.origin_username = fields[0]
    session.session_id = fields[1]
    session.session_version = _number(fields[2], "session version")
    session.origin_net_type = fields[3]
    session.origin_addr_type = fields[4]
    session.origin_address = fields[5]


def _parse_session_line(session, kind, value):
    if kind == "s":
        session.session_name = value
    elif kind == "c":
        session.connection = _parse_connection(value)
    elif kind == "t":
        fields = value.split()
        if len(fields) != 2 or not _is_number(fields[0]) or not _is_number(fields[1]):
            raise SdpError(400, "Bad SDP: t=%s" % value[:40])
        session.timing.append(fields[0] + " " + fields[1])
    elif kind == "a":
        name, sep, attr_value = value.partition(":")
        if name.lower() in DIRECTIONS and not sep:
            session.direction = name.lower()
        else:
            session.attributes.append((name, attr_value if sep else None))
    elif kind == "v":
        raise SdpError(400, "Bad SDP: second v= line")
    else:
        session.lines.append((kind, value))


def _parse_media_line(value):
    fields = value.split()
    if len(fields) < 3:
        raise SdpError(400, "Bad SDP: m=%s" % value[:40])
    port_text, slash, count_text = fields[1].partition("/")
    port = _number(port_text, "port", 5)
    if port > 65535:
        raise SdpError(400, "Bad SDP: port %d" % port)
    media = MediaDescription(fields[0], port, fields[2])
    if slash:
        media.port_count = _number(count_text, "port count", 5)
    if media.is_rtp:
        for fmt in fields[3:]:
            pt = _number(fmt, "payload type", 3)
            if pt > 127:
                raise SdpError(400, "Bad SDP: payload type %d" % pt)
            media.formats.append(pt)
    else:
        media.formats = fields[3:]
    if not media.formats and port != 0:
        raise SdpError(400, "Bad SDP: m=%s without formats" % fields[0])
    return media


def _parse_media_attribute_or_line(media, kind, value):
    if kind == "c":
        media.connection = _parse_connection(value)
        return
    if kind == "v":
        raise SdpError(400, "Bad SDP: v= inside a media section")
    if kind != "a":
        media.lines.append((kind, value))
        return
    name, sep, attr_value = value.partition(":")
    lower = name.lower()
    if lower in DIRECTIONS and not sep:
        media.direction = lower
    elif lower == "rtpmap" and media.is_rtp:
        media.rtpmap.append(_parse_rtpmap(attr_value))
    elif lower == "fmtp" and media.is_rtp:
        pt_text, _, params = attr_value.strip().partition(" ")
        media.fmtp.append((_number(pt_text, "fmtp payload type", 3), params.strip()))
    elif lower == "ptime":
        media.ptime = _parse_ptime(attr_value)
    else:
        media.attributes.append((name, attr_value if sep else None))


def _parse_rtpmap(value):
    pt_text, _, encoding = value.strip().partition(" ")
    pt = _number(pt_text, "rtpmap payload type", 3)
    parts = encoding.strip().split("/")
    name = parts[0]
    if not name or len(parts) > 3:
        raise SdpError(400, "Bad SDP: rtpmap:%s" % value[:40])
    rate = None
    channels = None
    if len(parts) > 1:
        rate = _number(parts[1], "clock rate", 7)
    if len(parts) > 2:
        channels = _number(parts[2], "channels", 3)
    return (pt, name, rate, channels)
