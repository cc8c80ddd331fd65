"""Scenario scripts for tools/phonesim: parsing, and the event-matching rule.

Rule: a script is one command per line (``#`` starts a comment). ``wait EVENT
[TIMEOUT_S]`` consumes the next occurrence of EVENT that no earlier ``wait``
or ``expect`` consumed; an occurrence logged before the command was read
counts, and other events in between are skipped. ``expect EVENT`` is
``wait EVENT 0``. A script with a bad line is refused whole, before any phone
starts, with the line number of every mistake.
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
    "wait": (1, 2),
    "expect": (1, 1),
    "sleep": (1, 1),
    "quit": (0, 0),
}


class ScriptError(Exception):
    def __init__(self, problems):
        super().__init__("\n".join(problems))
        self.problems = problems


class Command:
    __slots__ = ("line", "name", "args", "text")

    def __init__(self, line, name, args, text):
        self.line = line
        self.name = name
        self.args = args
        self.text = text

    def __repr__(self):
        return "Command(%d, %s, %r)" % (self.line, self.name, self.args)


def _number(text):
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value >= 0 else None


def parse_script(text, commands=COMMANDS):
    """Parse a whole script; raise ScriptError naming every bad line."""
    parsed = []
    problems = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        words = line.split()
        name, args = words[0].lower(), words[1:]
        if name not in commands:
            problems.append("line %d: unknown command %r (known: %s)"
                            % (number, name, ", ".join(sorted(commands))))
            continue
        low, high = commands[name]
        if len(args) < low or (high is not None and len(args) > high):
            problems.append("line %d: %s takes %s" % (number, name, _arity(low, high)))
            continue
        if name == "sleep" and _number(args[0]) is None:
            problems.append("line %d: sleep needs a number of seconds" % number)
            continue
        if name == "wait" and len(args) == 2 and _number(args[1]) is None:
            problems.append("line %d: wait timeout must be a number of seconds" % number)
            continue
        parsed.append(Command(number, name, args, line))
    if problems:
        raise ScriptError(problems)
    return parsed


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
