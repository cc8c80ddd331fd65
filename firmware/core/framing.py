"""Whole SIP messages and RFC 5626 keep-alives out of a byte stream (TCP, TLS).

Rule: sans-IO, in the style of h11. feed() takes chunks of any size;
next_event() returns None (more bytes needed), a Request or Response,
KeepAlivePing (a double CRLF between messages: answer with PONG) or
KeepAlivePong (a single CRLF). Content-Length frames every message.

Buffers are bounded: a header section or a message longer than
max_message is a framing error. A framing error raises MessageError with
``fatal`` True, and every later call raises it again: the stream has lost
its place and must be closed. A message that is framed correctly but does
not parse raises MessageError with ``fatal`` False; it has been consumed
and the next call goes on with the following message.

A ping split by the network into two separate CRLFs cannot be told from two
pongs without a clock; it reads as two pongs (over TLS a 4-byte write
arrives as one record, so this does not happen in practice).
"""

from firmware.core.errors import MessageError
from firmware.core.message import MAX_MESSAGE_SIZE
from firmware.core.parse import parse_message

PING = b"\r\n\r\n"
PONG = b"\r\n"


class KeepAlivePing:
    """The peer sent a double CRLF: send PONG back."""

    __slots__ = ()

    def __repr__(self):
        return "KeepAlivePing()"


class KeepAlivePong:
    """The peer answered our ping with a single CRLF."""

    __slots__ = ()

    def __repr__(self):
        return "KeepAlivePong()"


KEEPALIVE_PING = KeepAlivePing()
KEEPALIVE_PONG = KeepAlivePong()


def _framing_error(status, reason, detail):
    err = MessageError(status, reason, detail)
    err.fatal = True
    return err


def _content_length(head):
    """Content-Length from raw header bytes; raise a framing error if unusable."""
    values = []
    current = None
    for line in head.split(b"\n"):
        first = line[:1]
        if first == b" " or first == b"\t":
            if current is not None:
                values[current] += line.strip()
            continue
        current = None
        name, sep, value = line.partition(b":")
        if not sep:
            continue
        name = name.strip().lower()
        if name == b"content-length" or name == b"l":
            current = len(values)
            values.append(value.strip())
    if not values:
        raise _framing_error(400, "Bad Request - missing Content-Length header",
                             "a message on a stream needs Content-Length")
    if len(values) > 1:
        raise _framing_error(400, "Bad Request - duplicate Content-Length header",
                             "more than one Content-Length")
    text = values[0]
    if not text or text.strip(b"0123456789") or len(text.lstrip(b"0")) > 10:
        raise _framing_error(400, "Bad Request - malformed Content-Length header",
                             "Content-Length is not a non-negative number")
    return int(text)


class StreamFramer:
    """Cuts a byte stream into SIP messages and keep-alives (see module rule)."""

    __slots__ = ("max_message", "_buf", "_scan", "_head_end", "_body_start", "_length",
                 "_error")

    def __init__(self, max_message=MAX_MESSAGE_SIZE):
        self.max_message = max_message
        self._buf = bytearray()
        self._scan = 0  # where the search for the empty line resumes
        self._head_end = -1  # end of the header section of the current message
        self._body_start = 0
        self._length = 0
        self._error = None

    def feed(self, data):
        """Append received bytes. Drain next_event() after each feed: only the
        message being assembled is bounded, not what a caller piles up unread."""
        if self._error is not None or not data:
            return
        if isinstance(data, (bytes, bytearray, memoryview)):
            self._buf.extend(data)
        else:
            self._fail(_framing_error(None, "Bad Request", "fed something other than bytes"))

    def buffered(self):
        """Number of bytes received and not yet returned as an event."""
        return len(self._buf)

    def next_event(self):
        """None, a Request or Response, KeepAlivePing or KeepAlivePong; see module rule."""
        if self._error is not None:
            raise self._error
        try:
            return self._next()
        except MessageError as err:
            if err.fatal:
                self._fail(err)
            raise
        except Exception as exc:  # a framer bug must never take the stack down
            raise self._fail(_framing_error(None, "Bad Request",
                                            "framing failed (%r)" % (exc,))) from None

    def _fail(self, err):
        self._error = err
        self._buf = bytearray()
        return err

    def _consume(self, n):
        self._buf = self._buf[n:]
        self._scan = 0
        self._head_end = -1

    def _next(self):
        if self._head_end < 0:
            while True:
                buf = self._buf
                first = buf[:1]
                if first != b"\r" and first != b"\n":
                    break
                if buf[:4] == PING:
                    self._consume(4)
                    return KEEPALIVE_PING
                if buf[:2] == PONG:
                    if len(buf) == 3 and buf[2] == 13:
                        return None  # perhaps a ping still arriving
                    self._consume(2)
                    return KEEPALIVE_PONG
                if len(buf) == 1 and first == b"\r":
                    return None
                self._consume(1)  # a stray CR or LF between messages is white space
            if not buf or not self._find_head(buf):
                return None
        end = self._body_start + self._length
        if len(self._buf) < end:
            return None
        data = bytes(self._buf[:end])
        self._consume(end)
        try:
            return parse_message(data, stream=True)
        except MessageError as err:
            err.fatal = False
            raise

    def _find_head(self, buf):
        start = self._scan
        i = buf.find(b"\n\r\n", start)
        j = buf.find(b"\n\n", start)
        if i >= 0 and (j < 0 or i < j):
            head_end, body_start = i, i + 3
        elif j >= 0:
            head_end, body_start = j, j + 2
        else:
            if len(buf) > self.max_message:
                raise _framing_error(413, "Request Entity Too Large",
                                     "header section longer than %d bytes" % self.max_message)
            self._scan = max(0, len(buf) - 2)
            return False
        length = _content_length(bytes(buf[:head_end]))
        if body_start + length > self.max_message:
            raise _framing_error(413, "Request Entity Too Large",
                                 "message of %d bytes" % (body_start + length))
        self._head_end = head_end
        self._body_start = body_start
        self._length = length
        return True


__all__ = ("KEEPALIVE_PING", "KEEPALIVE_PONG", "KeepAlivePing", "KeepAlivePong", "PING",
           "PONG", "StreamFramer")
