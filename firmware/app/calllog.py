"""The call log: the last N calls, newest first, as JSON text.

Rule: the log is a plain model. The handset adds an entry when a call is
over; the runtime stores ``to_json()`` through runtime/storage.py (atomic
replace) and gives ``from_json`` what it read back at start. Reading is
forgiving where it can be: an entry with a bad field is dropped, not the
whole log; a document that is not a call log at all raises ``ValueError``,
so that storage can fall back to the previous good copy.

Entry fields (JSON keys): ``dir`` "in" or "out"; ``status`` one of
answered, missed, refused (incoming), answered, busy, failed, cancelled
(outgoing); ``uri`` the other party; ``name`` its display name; ``number``
what was dialled (outgoing, used by redial); ``when`` the wall time the call
began, ``[year, month, day, hour, minute, second]`` or null; ``duration``
whole seconds talked; ``reason`` why it failed or was refused; ``new`` true
for a missed or refused call nobody has looked at yet.
"""

import json

FORMAT = 1
DEFAULT_CAPACITY = 50

INCOMING = "in"
OUTGOING = "out"

ANSWERED = "answered"
MISSED = "missed"
REFUSED = "refused"
BUSY = "busy"
FAILED = "failed"
CANCELLED = "cancelled"

STATUSES = {
    INCOMING: (ANSWERED, MISSED, REFUSED),
    OUTGOING: (ANSWERED, BUSY, FAILED, CANCELLED),
}


class CallEntry:
    __slots__ = ("direction", "status", "uri", "name", "number", "when", "duration",
                 "reason", "new")

    def __init__(self, direction, status, uri="", name="", number="", when=None, duration=0,
                 reason="", new=None):
        if direction not in STATUSES:
            raise ValueError("direction must be %r or %r" % (INCOMING, OUTGOING))
        if status not in STATUSES[direction]:
            raise ValueError("status %r is not one of %s" % (status, ", ".join(
                STATUSES[direction])))
        self.direction = direction
        self.status = status
        self.uri = uri or ""
        self.name = name or ""
        self.number = number or ""
        self.when = tuple(when[:6]) if when else None
        self.duration = int(duration or 0)
        self.reason = reason or ""
        if new is None:
            new = direction == INCOMING and status != ANSWERED
        self.new = bool(new)

    @property
    def missed(self):
        """An incoming call nobody took (it rang out, or the phone refused it)."""
        return self.direction == INCOMING and self.status != ANSWERED

    def as_dict(self):
        return {"dir": self.direction, "status": self.status, "uri": self.uri,
                "name": self.name, "number": self.number,
                "when": list(self.when) if self.when else None,
                "duration": self.duration, "reason": self.reason, "new": self.new}

    @classmethod
    def from_dict(cls, data):
        """An entry from its JSON object; ValueError when a field is wrong."""
        if not isinstance(data, dict):
            raise ValueError("an entry must be an object")
        when = data.get("when")
        if when is not None:
            if not isinstance(when, list) or len(when) < 6:
                raise ValueError("when must be [year, month, day, hour, minute, second]")
            for part in when[:6]:
                if not isinstance(part, int) or isinstance(part, bool):
                    raise ValueError("when must hold integers")
        for key in ("uri", "name", "number", "reason"):
            if not isinstance(data.get(key, ""), str):
                raise ValueError("%s must be a string" % key)
        duration = data.get("duration", 0)
        if not isinstance(duration, int) or isinstance(duration, bool) or duration < 0:
            raise ValueError("duration must be a whole number of seconds")
        return cls(data.get("dir"), data.get("status"), data.get("uri", ""),
                   data.get("name", ""), data.get("number", ""), when, duration,
                   data.get("reason", ""), bool(data.get("new", False)))

    def __eq__(self, other):
        return isinstance(other, CallEntry) and self.as_dict() == other.as_dict()

    def __ne__(self, other):
        return not self.__eq__(other)

    def __repr__(self):
        return "CallEntry(%s %s %s%s)" % (self.direction, self.status,
                                          self.number or self.uri,
                                          " new" if self.new else "")


class CallLog:
    """The last ``capacity`` calls, newest first."""

    def __init__(self, capacity=DEFAULT_CAPACITY, entries=None):
        if not isinstance(capacity, int) or capacity < 0:
            raise ValueError("capacity must be a whole number >= 0")
        self.capacity = capacity
        self.entries = list(entries or [])[:capacity]

    def __len__(self):
        return len(self.entries)

    def __repr__(self):
        return "CallLog(%d of %d)" % (len(self.entries), self.capacity)

    def add(self, entry):
        """Put ``entry`` first; the oldest ones beyond the capacity go."""
        self.entries.insert(0, entry)
        if len(self.entries) > self.capacity:
            self.entries = self.entries[:self.capacity]

    def clear(self):
        self.entries = []

    def last_dialled(self):
        """The newest outgoing entry with a number or URI (for redial), or None."""
        for entry in self.entries:
            if entry.direction == OUTGOING and (entry.number or entry.uri):
                return entry
        return None

    def unseen_missed(self):
        count = 0
        for entry in self.entries:
            if entry.new and entry.missed:
                count += 1
        return count

    def mark_seen(self):
        """Forget that missed calls are new; True when something changed."""
        changed = False
        for entry in self.entries:
            if entry.new:
                entry.new = False
                changed = True
        return changed

    def to_json(self):
        return json.dumps({"format": FORMAT, "capacity": self.capacity,
                           "calls": [entry.as_dict() for entry in self.entries]})

    @classmethod
    def from_json(cls, text, capacity=None):
        """The log stored in ``text``. Entries that do not parse are skipped;
        ValueError when ``text`` is not a call log document."""
        try:
            document = json.loads(text)
        except ValueError as error:
            raise ValueError("call log is not JSON: %s" % error) from None
        if not isinstance(document, dict) or not isinstance(document.get("calls"), list):
            raise ValueError("call log needs an object with a \"calls\" list")
        if document.get("format") != FORMAT:
            raise ValueError("call log format %r is not %d" % (document.get("format"), FORMAT))
        if capacity is None:
            capacity = document.get("capacity", DEFAULT_CAPACITY)
            if not isinstance(capacity, int) or isinstance(capacity, bool) or capacity < 0:
                capacity = DEFAULT_CAPACITY
        entries = []
        for data in document["calls"]:
            try:
                entries.append(CallEntry.from_dict(data))
            except (ValueError, TypeError):
                continue
        return cls(capacity, entries)
