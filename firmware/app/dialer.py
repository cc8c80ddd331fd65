"""Dialling: the keys pressed off-hook, made into a number by the dial plan and the digit timer.

Rule: a ``Dialer`` keeps the keys typed so far and the digit deadline, and
knows nothing of calls, tones or the screen. ``key`` and ``timeout`` say what
the dialling came to: None while it goes on, ``(PLACE, number, keys)`` when
there is a number to call, ``(REJECT, why, keys)`` when the plan will not
take the keys (``keys`` as typed, for the screen and the call log). The
handset (handset.py) acts on that answer and calls ``stop`` when dialling
ends for any reason. ``#`` sends what was dialled unless the plan takes it
as a key right there; the first key has its own, longer, timeout.
"""

from firmware.app.dialplan import COMPLETE, INVALID, WAIT, DialPlan

PLACE = "place"
REJECT = "reject"


class Dialer:
    __slots__ = ("plan", "digit_timeout", "first_digit_timeout", "keys", "deadline")

    def __init__(self, plan_text, digit_timeout, first_digit_timeout):
        self.plan = DialPlan(plan_text)
        self.digit_timeout = float(digit_timeout)
        self.first_digit_timeout = float(first_digit_timeout)
        self.keys = ""
        self.deadline = None          # when the digit timer runs out, if it runs

    def __repr__(self):
        return "Dialer(%r, deadline=%r)" % (self.keys, self.deadline)

    def start(self, now):
        """Dial tone: no key yet, and the first-digit timer runs."""
        self.keys = ""
        self.deadline = now + self.first_digit_timeout

    def stop(self):
        self.keys = ""
        self.deadline = None

    def due(self, now):
        """True, once, when the digit timer has run out by ``now``."""
        if self.deadline is not None and now >= self.deadline:
            self.deadline = None
            return True
        return False

    def hash_sends(self):
        """``#`` ends dialling unless the plan takes it as a key right here."""
        if not self.keys:
            return False
        return not self.plan.alternatives or not self.plan.takes(self.keys + "#")

    def key(self, key, now):
        """One dial key ("0"-"9", "*", "#"): None, or what the dialling came to."""
        if key == "#" and self.hash_sends():
            status, number = self.plan.match(self.keys)
            return PLACE, (number if status in (COMPLETE, WAIT) else self.keys), self.keys
        self.keys += key
        status, number = self.plan.match(self.keys)
        if status == INVALID:
            return REJECT, "Invalid number", self.keys
        if status == COMPLETE:
            return PLACE, number, self.keys
        self.deadline = now + self.digit_timeout
        return None

    def timeout(self):
        """The digit timer ran out after some keys: what the dialling came to."""
        status, number = self.plan.match(self.keys)
        if status in (COMPLETE, WAIT):
            return PLACE, number, self.keys
        return REJECT, "Too few digits", self.keys
