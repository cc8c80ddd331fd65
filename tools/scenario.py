"""Scenario scripts for tools/phonesim: parsing, and the event-matching rule.

Rule: a script is one command per line. ``#`` at the start of a line, or
after a blank and followed by one (``call X   # first call``), starts a
comment; any other ``#`` is the keypad key (``press 2002#``; a lone ``#``
key goes last on its line, ``press #``, without a comment). A script with a
bad line is refused whole, before any phone starts, with the line number of
every mistake.

Phones: with several phones (``phonesim --phones alice=a.json,bob=b.json``)
a line acting on a phone starts with its name and a colon (``alice: press
2002#``); with one phone the prefix may be left out. ``sleep`` and ``quit``
act on the whole run and take no prefix.

Commands acting on a phone:

    register                    REGISTER now (the phone also registers at start)
    call URI | answer | hangup | hold | resume
                                call control driven directly, as an API user
                                would; the newest call is the one acted on
    offhook | onhook            lift or replace the handset
    press KEYS...               press and release keys on the keypad, one after
                                the other: ``press 2002#``, ``press redial``
                                (a word that is a key's name is that key)
    wait EVENT [T]              the next unconsumed EVENT within T seconds
                                (default 10); an occurrence logged before the
                                line was read counts, other events are skipped
    expect EVENT                the same with T = 0
    expect display TEXT         TEXT is on one line of the display now
    expect led NAME STATE       LED NAME is on, off, or blinking (STATE blink)
    expect tone NAME            the tone being played (dial, ringback, busy,
                                congestion, call_waiting, or none)
    expect ringing              the ringer rings (``expect ringer off``: it does not)
    wait display|led|tone|ringing ... [T]
                                wait up to T seconds for the same to hold;
                                ``wait display "TEXT" T`` (quote a text to give T)

A phone touched by any of offhook, onhook, press or the display, led, tone
and ringer checks runs with its handset (the firmware's handset application,
as on the board); the others are driven through call control only. The two
do not mix on one phone: the handset acts on every call by itself.
"""

DEFAULT_WAIT_S = 10.0

# command name -> (minimum arguments, maximum arguments or None for "rest of line")
COMMANDS = {
    "register": (0, 0),
    "call": (1, 1),
    "answer": (0, 0),
    "hangup": (0, 0),
    "hold": (0, 0),
    "resume": (0, 0),
    "offhook": (0, 0),
    "onhook": (0, 0),
    "press": (1, None),
    "wait": (1, None),
    "expect": (1, None),
    "sleep": (1, 1),
    "quit": (0, 0),
}
RUN_COMMANDS = ("sleep", "quit")                     # no phone prefix
API_COMMANDS = ("call", "answer", "hangup", "hold", "resume")
HANDSET_COMMANDS = ("offhook", "onhook", "press")
STATE_CHECKS = ("display", "led", "tone", "ringing", "ringer")
DIAL_KEYS = "0123456789*#"
TONES = ("dial", "ringback", "busy", "congestion", "call_waiting", "none")
LED_STATES = ("on", "off", "blink")


class ScriptError(Exception):
    def __init__(self, problems):
        super().__init__("\n".join(problems))
        self.problems = problems


class Check:
    """What a ``wait`` or ``expect`` looks for: ``kind`` "event" (``what`` the
    name), "display" (the text), "led" (name, state), "tone" (name) or
    "ringer" ("on"/"off"); ``timeout`` in seconds."""

    __slots__ = ("kind", "what", "timeout")

    def __init__(self, kind, what, timeout):
        self.kind = kind
        self.what = what
        self.timeout = timeout

    @property
    def handset(self):
        return self.kind != "event"

    def describe(self):
        if self.kind == "event":
            return self.what
        if self.kind == "display":
            return 'display "%s"' % self.what
        if self.kind == "led":
            return "led %s %s" % self.what
        if self.kind == "tone":
            return "tone %s" % self.what
        return "ringing" if self.what == "on" else "ringer off"

    def __repr__(self):
        return "Check(%s, %r, %s)" % (self.kind, self.what, self.timeout)


class Command:
    __slots__ = ("line", "name", "args", "text", "phone", "check", "keys")

    def __init__(self, line, name, args, text, phone=None, check=None, keys=None):
        self.line = line
        self.name = name
        self.args = args
        self.text = text
        self.phone = phone
        self.check = check
        self.keys = keys

    @property
    def handset(self):
        """True when the command needs the phone's handset."""
        return self.name in HANDSET_COMMANDS or (self.check is not None and self.check.handset)

    def __repr__(self):
        return "Command(%d, %s%s, %r)" % (self.line, self.phone + ": " if self.phone else "",
                                          self.name, self.args)


def _number(text):
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value >= 0 else None


def strip_comment(raw):
    """The line without its comment (see the rule above), stripped."""
    line = raw.strip()
    if line.startswith("#"):
        return ""
    for i in range(1, len(line) - 1):
        if line[i] == "#" and line[i - 1] in " \t" and line[i + 1] in " \t":
            return line[:i].strip()
    return line


def split_keys(words):
    """``press`` arguments as a list of keys: a word of lower-case letters (and _)
    is one named key, any other word is one key per character. ValueError
    names a character that is no key."""
    keys = []
    for word in words:
        if word[0].isalpha() and word.replace("_", "").isalpha() and word.islower():
            keys.append(word)
            continue
        for ch in word:
            if ch not in DIAL_KEYS:
                raise ValueError("%r is not a key (keys: %s, or a key's name such as redial)"
                                 % (ch, DIAL_KEYS))
            keys.append(ch)
    return keys


def _unquote(text):
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        return text[1:-1]
    return text


def parse_check(rest, waiting):
    """The Check of ``wait``/``expect`` arguments (``rest``: the text after the
    command word). ValueError says what is wrong."""
    words = rest.split()
    kind = words[0]
    default = DEFAULT_WAIT_S if waiting else 0.0
    if kind not in STATE_CHECKS:
        if not waiting and len(words) > 1:
            raise ValueError("expect takes 1 argument(s)")
        if len(words) > 2:
            raise ValueError("wait takes 1 to 2 arguments")
        timeout = default
        if len(words) == 2:
            timeout = _number(words[1])
            if timeout is None:
                raise ValueError("wait timeout must be a number of seconds")
        return Check("event", kind, timeout)
    after = rest[len(kind):].strip()
    timeout = default
    if kind == "display":
        if not after:
            raise ValueError("display needs the text to look for")
        text = after
        if waiting and after.startswith('"'):
            close = after.find('"', 1)
            if close < 0:
                raise ValueError("display text: no closing quote")
            text = after[:close + 1]
            tail = after[close + 1:].strip()
            if tail:
                timeout = _number(tail)
                if timeout is None:
                    raise ValueError("the timeout after the text must be a number of seconds")
        text = _unquote(text)
        if not text:
            raise ValueError("display needs the text to look for")
        return Check("display", text, timeout)
    args = after.split()
    wanted = {"led": 2, "tone": 1, "ringing": 0, "ringer": 1}[kind]
    if waiting and len(args) == wanted + 1:
        timeout = _number(args[-1])
        if timeout is None:
            raise ValueError("wait timeout must be a number of seconds")
        args = args[:-1]
    if len(args) != wanted:
        usage = {"led": "led NAME on|off|blink", "tone": "tone NAME", "ringing": "ringing",
                 "ringer": "ringer on|off"}[kind]
        raise ValueError("use: %s %s%s" % ("wait" if waiting else "expect", usage,
                                           " [T]" if waiting else ""))
    if kind == "led":
        if args[1] not in LED_STATES:
            raise ValueError("an LED is %s, not %r" % (", ".join(LED_STATES), args[1]))
        return Check("led", (args[0], args[1]), timeout)
    if kind == "tone":
        if args[0] not in TONES:
            raise ValueError("tones are %s, not %r" % (", ".join(TONES), args[0]))
        return Check("tone", args[0], timeout)
    if kind == "ringer":
        if args[0] not in ("on", "off"):
            raise ValueError("the ringer is on or off, not %r" % args[0])
        return Check("ringer", args[0], timeout)
    return Check("ringer", "on", timeout)


def parse_script(text, commands=COMMANDS, phones=None):
    """Parse a whole script; raise ScriptError naming every bad line.

    ``phones``: the phone names a line may be prefixed with (None: one phone,
    no prefix allowed but an unknown one is still reported)."""
    parsed = []
    problems = []
    several = phones is not None and len(phones) > 1
    for number, raw in enumerate(text.splitlines(), 1):
        line = strip_comment(raw)
        if not line:
            continue
        phone = None
        first, _, remainder = line.partition(" ")
        if first.endswith(":") and len(first) > 1:
            phone = first[:-1]
            line = remainder.strip()
            if phones is None or phone not in phones:
                known = ", ".join(phones) if phones else "none: this run has one phone"
                problems.append("line %d: no phone named %r (phones: %s)"
                                % (number, phone, known))
                continue
            if not line:
                problems.append("line %d: a command must follow %r" % (number, first))
                continue
        words = line.split()
        name, args = words[0].lower(), words[1:]
        if name not in commands:
            problems.append("line %d: unknown command %r (known: %s)"
                            % (number, name, ", ".join(sorted(commands))))
            continue
        if name in RUN_COMMANDS and phone is not None:
            problems.append("line %d: %s acts on the whole run: no phone prefix" % (number, name))
            continue
        if name not in RUN_COMMANDS and phone is None and several:
            problems.append("line %d: say which phone (%s: %s)" % (number, phones[0], line))
            continue
        low, high = commands[name]
        if len(args) < low or (high is not None and len(args) > high):
            problems.append("line %d: %s takes %s" % (number, name, _arity(low, high)))
            continue
        if name == "sleep" and _number(args[0]) is None:
            problems.append("line %d: sleep needs a number of seconds" % number)
            continue
        check = keys = None
        if name in ("wait", "expect"):
            try:
                check = parse_check(line[len(words[0]):].strip(), name == "wait")
            except ValueError as error:
                problems.append("line %d: %s" % (number, error))
                continue
        elif name == "press":
            try:
                keys = split_keys(args)
            except ValueError as error:
                problems.append("line %d: press: %s" % (number, error))
                continue
        if phone is None and name not in RUN_COMMANDS and phones:
            phone = phones[0]
        parsed.append(Command(number, name, args, line, phone, check, keys))
    if not problems:
        problems = _mixing(parsed)
    if problems:
        raise ScriptError(problems)
    return parsed


def _mixing(commands):
    """A phone driven both through its handset and through call control."""
    problems = []
    first_handset = {}
    for command in commands:
        if command.handset and command.phone not in first_handset:
            first_handset[command.phone] = command.line
    for command in commands:
        if command.name in API_COMMANDS and command.phone in first_handset:
            who = "%s's handset" % command.phone if command.phone else "the handset"
            problems.append("line %d: %s drives call control directly, but line %d uses %s, "
                            "which acts on calls itself: use offhook, onhook and press"
                            % (command.line, command.name, first_handset[command.phone], who))
    return problems


def handset_phones(commands):
    """Names of the phones a script touches through a handset (None for the
    unnamed phone of a one-phone run)."""
    names = []
    for command in commands:
        if command.handset and command.phone not in names:
            names.append(command.phone)
    return names


def _arity(low, high):
    if high is None:
        return "at least %d argument(s)" % low
    if low == high:
        return "%d argument(s)" % low
    return "%d to %d arguments" % (low, high)


class EventLog:
    """Events in the order they happened, with the consumption rule above."""

    def __init__(self):
        self.events = []          # (time, name, details)
        self._consumed = set()    # indexes of occurrences a wait or expect took

    def add(self, time, name, details=""):
        self.events.append((time, name, details))

    def take(self, name, matches=None):
        """Consume and return the next unconsumed occurrence of ``name`` (and,
        when given, satisfying ``matches(details)``), or None."""
        for index, event in enumerate(self.events):
            if index in self._consumed or event[1] != name:
                continue
            if matches is None or matches(event[2]):
                self._consumed.add(index)
                return event
        return None
