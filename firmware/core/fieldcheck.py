"""Checking header values: quick patterns for the plain forms, full parsers for the rest.

Rule: a message has the headers it depends on checked when it arrives, but
no objects built that nobody may ask for. The quick patterns accept the
plain, common form of a field, and each accepts a strict subset of what the
full parser of the headers module accepts: a miss only means "ask the full
parser", so a verdict never depends on which one answered (possessive
quantifiers only ever make a pattern reject more). A line pattern takes a
whole header line and accepts exactly when the value pattern accepts its
value, the text after the first colon without the white space around it.
Where the regex engine cannot compile the patterns or match the long probe
below (MicroPython: no possessive quantifiers, and its engine recurses per
character), every QUICK_* name is None and only the full parsers run.

check_uri, check_name_addr, check_via_list and check_contacts raise
SipSyntaxError unless a value is well-formed, whichever way that is found.
"""

import re

from firmware.core.headers import parse_contacts, parse_name_addr, parse_uint, parse_via_list
from firmware.core.uri import HOST_RE, PORT_RE, SIP_URI_BARE_RE, SIP_URI_RE, parse_uri

_T = "[A-Za-z0-9.!%*_+`'~-]++"
_V = '[^ \\t";,<>\\\\]++'
_PARAMS = "(?:;" + _T + "(?:=(?:" + _V + '|"[^"\\\\]*+"))?+)*+'
_NAME_ADDR = ('(?:(?:"[^"\\\\]*+"[ \\t]*+|' + _T + "(?:[ \\t]++" + _T + ")*+[ \\t]*+)?<"
              + SIP_URI_RE + ">|" + SIP_URI_BARE_RE + ")" + _PARAMS)
_VIA = ("SIP/2\\.0/(?:UDP|TCP|TLS|SCTP|WSS?) " + HOST_RE + "(?::" + PORT_RE + ")?(?:;"
        + _T + "(?:=" + _V + ")?+)*+")
_SEP = "[ \\t]*+,[ \\t]*+"
_NAME_ADDR_LIST = _NAME_ADDR + "(?:" + _SEP + _NAME_ADDR + ")*+"
_VIA_LIST = _VIA + "(?:" + _SEP + _VIA + ")*+"
_DIGITS_1_TO_9 = "[0-9]" + "[0-9]?+" * 8
# A header line: the name up to the first colon, then the value between white space.
_LINE_START = "[^:]*+:[ \\t]*+"
_LINE_END = "[ \\t]*+\\Z"


def _compile():
    """The quick patterns, or Nones where the regex engine cannot run them."""
    try:
        patterns = (  # used with match(): anchored at the start; \\Z anchors the end
            re.compile(_VIA_LIST + "\\Z"),
            re.compile(SIP_URI_RE + "\\Z"),
            re.compile(_NAME_ADDR + "\\Z"),
            re.compile(_NAME_ADDR_LIST + "\\Z"),
            re.compile(_LINE_START + _VIA_LIST + _LINE_END),
            re.compile(_LINE_START + _NAME_ADDR + _LINE_END),
            re.compile(_LINE_START + _NAME_ADDR_LIST + _LINE_END),
            re.compile(_LINE_START + _DIGITS_1_TO_9 + " (" + _T + ")" + _LINE_END),
            re.compile(_LINE_START + "(" + _DIGITS_1_TO_9 + ")" + _LINE_END),
        )
        if patterns[0].match("SIP/2.0/UDP " + "a" * 2000 + ";branch=z9hG4bK1"):
            return [p.match for p in patterns]
    except (ValueError, RuntimeError):
        pass
    return [None] * 9


(QUICK_VIA_LIST, QUICK_SIP_URI, QUICK_NAME_ADDR, QUICK_CONTACTS,
 QUICK_VIA_LINE, QUICK_NAME_ADDR_LINE, QUICK_CONTACTS_LINE,
 QUICK_CSEQ_LINE, QUICK_NUMBER_LINE) = _compile()
# QUICK_VIA_LIST, QUICK_SIP_URI, QUICK_NAME_ADDR (From, To) and QUICK_CONTACTS (a
# list of name-addr, never '*') take a value; the *_LINE forms a whole line.
# QUICK_CSEQ_LINE: 1 to 9 digits, one space, a method (group 1).
# QUICK_NUMBER_LINE: 1 to 9 digits (group 1).
FAST_PATTERNS = QUICK_VIA_LIST is not None


def check_uri(text):
    """Raise SipSyntaxError unless text is a well-formed URI."""
    if not (FAST_PATTERNS and QUICK_SIP_URI(text)):
        parse_uri(text)


def check_name_addr(text):
    """Raise SipSyntaxError unless text is a well-formed From/To style value."""
    if not (FAST_PATTERNS and QUICK_NAME_ADDR(text)):
        parse_name_addr(text)


def check_via_list(text):
    """Raise SipSyntaxError unless text is one or more well-formed Via values."""
    if not (FAST_PATTERNS and QUICK_VIA_LIST(text)):
        parse_via_list(text)


def small_expires(text):
    """True when every 'expires=' in text is followed by at most 9 digits."""
    if "s=" not in text and "S=" not in text:
        return True  # no expires parameter at all
    low = text.lower()
    i = low.find("expires=")
    while i >= 0:
        i += 8
        end = i
        while end < len(low) and low[end] in "0123456789":
            end += 1
        if end == i or end - i > 9 or (end < len(low) and low[end] not in ";,> \t"):
            return False
        i = low.find("expires=", end)
    return True


def check_contacts(text):
    """Raise SipSyntaxError unless text is a well-formed Contact value; return
    True when it is '*'. expires parameters must fit in 32 bits."""
    if FAST_PATTERNS and QUICK_CONTACTS(text) and small_expires(text):
        return False
    contacts = parse_contacts(text)
    if contacts[0] == "*":
        return True
    for contact in contacts:
        expires = contact.param("expires")
        if expires is not None:
            parse_uint(expires, 0xFFFFFFFF)
    return False


__all__ = (
    "FAST_PATTERNS", "QUICK_CONTACTS", "QUICK_CONTACTS_LINE", "QUICK_CSEQ_LINE",
    "QUICK_NAME_ADDR", "QUICK_NAME_ADDR_LINE", "QUICK_NUMBER_LINE", "QUICK_SIP_URI",
    "QUICK_VIA_LINE", "QUICK_VIA_LIST", "check_contacts", "check_name_addr", "check_uri",
    "check_via_list", "small_expires",
)
