"""Errors of the SIP message layer, and the response each one calls for.

Rule: field parsers (URIs, header values) raise SipSyntaxError and nothing
else. parse_message() and the stream framer raise MessageError and nothing
else; a MessageError names the status and reason phrase of the response the
stack should send, or None when nothing must be sent.
"""


class SipSyntaxError(ValueError):
    """Text that does not follow the SIP grammar (RFC 3261 section 25)."""


REASON_PHRASES = {
    100: "Trying", 180: "Ringing", 181: "Call Is Being Forwarded", 182: "Queued",
    183: "Session Progress", 199: "Early Dialog Terminated",
    200: "OK", 202: "Accepted", 204: "No Notification",
    300: "Multiple Choices", 301: "Moved Permanently", 302: "Moved Temporarily",
    305: "Use Proxy", 380: "Alternative Service",
    400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden",
    404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
    407: "Proxy Authentication Required", 408: "Request Timeout", 410: "Gone",
    412: "Conditional Request Failed", 413: "Request Entity Too Large",
    414: "Request-URI Too Long", 415: "Unsupported Media Type",
    416: "Unsupported URI Scheme", 417: "Unknown Resource-Priority", 420: "Bad Extension",
    421: "Extension Required", 422: "Session Interval Too Small", 423: "Interval Too Brief",
    428: "Use Identity Header", 429: "Provide Referrer Identity", 430: "Flow Failed",
    433: "Anonymity Disallowed", 439: "First Hop Lacks Outbound Support",
    440: "Max-Breadth Exceeded", 469: "Bad Info Package", 470: "Consent Needed",
    480: "Temporarily Unavailable", 481: "Call/Transaction Does Not Exist",
    482: "Loop Detected", 483: "Too Many Hops", 484: "Address Incomplete", 485: "Ambiguous",
    486: "Busy Here", 487: "Request Terminated", 488: "Not Acceptable Here", 489: "Bad Event",
    491: "Request Pending", 493: "Undecipherable", 494: "Security Agreement Required",
    500: "Server Internal Error", 501: "Not Implemented", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Server Time-out", 505: "Version Not Supported",
    513: "Message Too Large", 580: "Precondition Failure",
    600: "Busy Everywhere", 603: "Decline", 604: "Does Not Exist Anywhere",
    606: "Not Acceptable", 607: "Unwanted", 608: "Rejected",
}
_CLASS_PHRASES = ("", "Provisional", "Success", "Redirection", "Client Error",
                  "Server Error", "Global Failure")


def reason_phrase(status):
    phrase = REASON_PHRASES.get(status)
    if phrase:
        return phrase
    cls = status // 100
    return _CLASS_PHRASES[cls] if 0 < cls < 7 else "Unknown"


class MessageError(Exception):
    """A message the stack cannot accept, and what to answer.

    status: the response to send (400, 413, 416, 505, ...) or None when
    nothing must be sent (a response, or a request without a usable Via).
    reason: the reason phrase for that status line; detail: human text;
    request: the partly parsed Request when a response can be built.
    fatal: True only from StreamFramer, when the stream cannot go on.
    """

    def __init__(self, status, reason, detail, request=None):
        super().__init__(detail)
        self.status = status
        self.reason = reason
        self.detail = detail
        self.request = request
        self.fatal = False  # set by the stream framer when the stream is lost

    def response(self, to_tag=None):
        """The error response ready to send, or None."""
        if self.status is None or self.request is None:
            return None
        from firmware.core.message import make_response  # the message model imports us

        return make_response(self.request, self.status, self.reason, to_tag=to_tag)

    def __repr__(self):
        return "MessageError(%r, %r, %r)" % (self.status, self.reason, self.detail)
