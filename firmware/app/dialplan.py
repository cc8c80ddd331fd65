"""Dial plans: digit maps in the usual SIP-phone syntax, and the destination URI.

Rule: a digit map is a list of alternatives separated by ``|`` (the whole map
may sit in parentheses). Each alternative is a sequence of elements:

    0-9 * #     that key
    x           any digit 0-9
    [...]       one key of a set: ``[2-9]``, ``[13579*]``, ranges of digits
    .           the element before it, any number of times (zero included)
    T           (last) the alternative is complete only when the inter-digit
                timer expires, never at once
    <from:to>   keys ``from`` are dialled but ``to`` is sent instead; an empty
                ``from`` inserts ``to`` (``<9:>xxxxxxx`` drops an outside-line 9,
                ``<:00>xx.`` adds a prefix)

``DialPlan.match(keys)`` says what the keys dialled so far amount to:

    COMPLETE    an alternative matches and no alternative can take more keys:
                dial now
    WAIT        an alternative matches but more keys could still match (or it
                ends in T): dial when the inter-digit timer expires
    PARTIAL     a prefix of some alternative: wait for more keys
    INVALID     no alternative can ever match

together with the number to send (the first matching alternative, rewritten
by its substitutions) for COMPLETE and WAIT. An empty plan takes anything:
every non-empty key string is WAIT. Matching runs the alternatives as small
non-deterministic automata, so ``.`` never backtracks exponentially.
"""

INVALID = "invalid"
PARTIAL = "partial"
WAIT = "wait"
COMPLETE = "complete"

DIGITS = "0123456789"
KEYS = "0123456789*#"


class DialPlanError(ValueError):
    """The digit map does not parse; the message says where."""


class _Element:
    """One position of an alternative: the keys it takes (None: it takes no
    key and only inserts ``output``), whether it repeats, and what it sends
    (None: the key itself)."""

    __slots__ = ("keys", "repeat", "output")

    def __init__(self, keys, repeat=False, output=None):
        self.keys = keys
        self.repeat = repeat
        self.output = output


def _set_of_keys(body, where):
    keys = ""
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "x" or ch == "X":
            keys += DIGITS
        elif ch in KEYS:
            if ch in DIGITS and i + 2 < len(body) and body[i + 1] == "-":
                last = body[i + 2]
                if last not in DIGITS or last < ch:
                    raise DialPlanError("%s: bad range %s-%s" % (where, ch, last))
                for code in range(ord(ch), ord(last) + 1):
                    keys += chr(code)
                i += 2
            else:
                keys += ch
        else:
            raise DialPlanError("%s: %r cannot be in [...]" % (where, ch))
        i += 1
    if not keys:
        raise DialPlanError("%s: empty [...]" % where)
    return keys


def _parse_elements(text, where, inside_substitution=False):
    """The elements of ``text`` and whether it ends in the timer mark T."""
    elements = []
    timer = False
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == " " or ch == "\t":
            pass
        elif timer:
            raise DialPlanError("%s: T must be the last element" % where)
        elif ch in KEYS:
            elements.append(_Element(ch))
        elif ch == "x" or ch == "X":
            elements.append(_Element(DIGITS))
        elif ch == "[":
            end = text.find("]", i)
            if end < 0:
                raise DialPlanError("%s: [ without ]" % where)
            elements.append(_Element(_set_of_keys(text[i + 1:end], where)))
            i = end
        elif ch == ".":
            if inside_substitution:
                raise DialPlanError("%s: no . inside <...>" % where)
            if not elements or elements[-1].repeat or elements[-1].keys is None:
                raise DialPlanError("%s: . must follow a key, x or [...]" % where)
            elements[-1].repeat = True
        elif (ch == "T" or ch == "t") and not inside_substitution:
            timer = True
        elif ch == "<" and not inside_substitution:
            end = text.find(">", i)
            if end < 0:
                raise DialPlanError("%s: < without >" % where)
            elements.extend(_substitution(text[i + 1:end], where))
            i = end
        else:
            raise DialPlanError("%s: unexpected %r" % (where, ch))
        i += 1
    return elements, timer


def _substitution(body, where):
    dialled, colon, sent = body.partition(":")
    if not colon:
        raise DialPlanError("%s: <...> needs a colon: <dialled:sent>" % where)
    for ch in "<>|[]":
        if ch in sent:
            raise DialPlanError("%s: %r cannot be in the sent part of <...>" % (where, ch))
    sent = sent.strip()
    elements, _ = _parse_elements(dialled, where, True)
    if not elements:
        return [_Element(None, False, sent)]
    for n, element in enumerate(elements):
        element.output = sent if n == 0 else ""
    return elements


class _Alternative:
    __slots__ = ("text", "elements", "timer")

    def __init__(self, text, where):
        self.text = text
        self.elements, self.timer = _parse_elements(text, where)
        if not self.elements:
            raise DialPlanError("%s: empty alternative" % where)

    def _closure(self, positions):
        elements = self.elements
        out = []
        stack = list(positions)
        while stack:
            pos = stack.pop()
            if pos in out:
                continue
            out.append(pos)
            if pos < len(elements):
                element = elements[pos]
                if element.repeat or element.keys is None:
                    stack.append(pos + 1)
        return out

    def status(self, keys):
        elements = self.elements
        positions = self._closure([0])
        for key in keys:
            following = []
            for pos in positions:
                if pos < len(elements):
                    element = elements[pos]
                    if element.keys is not None and key in element.keys:
                        following.append(pos if element.repeat else pos + 1)
            if not following:
                return INVALID
            positions = self._closure(following)
        end = len(elements)
        complete = end in positions
        more = False
        for pos in positions:
            if pos < end and elements[pos].keys is not None:
                more = True
        if not complete:
            return PARTIAL
        return WAIT if (more or self.timer) else COMPLETE

    def render(self, keys):
        """The number to send for ``keys`` (which match completely)."""
        return self._render(0, keys, 0)

    def _render(self, pos, keys, i):
        elements = self.elements
        if pos == len(elements):
            return "" if i == len(keys) else None
        element = elements[pos]
        if element.keys is None:
            rest = self._render(pos + 1, keys, i)
            return None if rest is None else element.output + rest
        if i < len(keys) and keys[i] in element.keys:
            sent = keys[i] if element.output is None else element.output
            rest = self._render(pos if element.repeat else pos + 1, keys, i + 1)
            if rest is not None:
                return sent + rest
        if element.repeat:
            return self._render(pos + 1, keys, i)
        return None


class DialPlan:
    """A parsed digit map. ``DialPlan("")`` accepts any number."""

    def __init__(self, text=""):
        self.text = text or ""
        body = self.text.strip()
        if body.startswith("(") and body.endswith(")"):
            body = body[1:-1]
        self.alternatives = []
        if not body.strip():
            return
        for n, part in enumerate(body.split("|")):
            where = "alternative %d (%s)" % (n + 1, part.strip())
            self.alternatives.append(_Alternative(part.strip(), where))

    def __repr__(self):
        return "DialPlan(%r)" % self.text

    def match(self, keys):
        """(status, number): see the module docstring; number is None unless
        the status is COMPLETE or WAIT."""
        if not self.alternatives:
            if not keys:
                return PARTIAL, None
            return WAIT, keys
        matched = None
        alive = False
        more = False
        for alternative in self.alternatives:
            status = alternative.status(keys)
            if status == INVALID:
                continue
            alive = True
            if status != PARTIAL and matched is None:
                matched = alternative
            if status != COMPLETE:
                more = True
        if not alive:
            return INVALID, None
        if matched is None:
            return PARTIAL, None
        return (WAIT if more else COMPLETE), matched.render(keys)

    def takes(self, keys):
        """True when ``keys`` is a prefix of, or a match for, some alternative."""
        return self.match(keys)[0] != INVALID


_SCHEMES = ("sip:", "sips:", "tel:")


def escape_user(number):
    """A dialled number as a SIP URI user part: ``#`` must be escaped (RFC 3261 25.1)."""
    return number.replace("%", "%25").replace("#", "%23").replace(" ", "")


def destination_uri(number, domain):
    """The URI to call for ``number``: a full URI stays as it is (``sip:``
    added to ``user@host``), anything else becomes ``sip:number@domain``."""
    text = number.strip()
    for scheme in _SCHEMES:
        if text.lower().startswith(scheme):
            return text
    if "@" in text:
        return "sip:" + text
    return "sip:%s@%s" % (escape_user(text), domain)
