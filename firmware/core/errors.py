"""The one exception type of the SIP field grammar.

Rule: every parser below the message level (URIs, header fields) signals
malformed text by raising SipSyntaxError and nothing else; the message
layer turns it into a MessageError carrying the response to send.
"""


class SipSyntaxError(ValueError):
    """Text that does not follow the SIP grammar (RFC 3261 section 25)."""
