"""A small electrical model of the phone's wiring: pins, rails and switch contacts.

Rule: nothing here is scripted per test. A pin reads what the wiring makes of it:
the nodes joined by closed contacts form a net; a net with a driver (a rail, an
output pin, an open-drain pin pulling low) has that level; an undriven net takes
the level of its pull resistors. So a key press closes a contact between a row
and a column and the ordinary matrix scan finds it, and a diode-less matrix
shows its ghost key because the current really has a path through three
pressed keys.

Faults a driver could cause on real copper are counted, not hidden: ``shorts``
(two drivers fighting on one net) and ``floating_reads`` (an input read while
nothing holds it), so tests can assert a driver never does either.

Time is virtual: the circuit asks ``clock()`` for the present, and a contact
that was moved with bounce chatters on a schedule in that time.
"""

from firmware.hal.api import Pin

GND = "GND"
VCC = "VCC"


class Contact:
    """A mechanical switch between two nodes (pin numbers or a rail).

    ``move(closed, now, bounces, interval)`` sends it to a new position; with
    bounces it first chatters: new, old, new, old, ... each ``interval``
    seconds apart, ``bounces`` returns to the old position in all, then rests
    in the new one (2 * bounces + 1 transitions).
    """

    __slots__ = ("a", "b", "closed", "rest", "_schedule")

    def __init__(self, a, b):
        self.a = a
        self.b = b
        self.closed = False
        self.rest = False
        self._schedule = []

    def move(self, closed, now, bounces=0, interval=0.001):
        self._settle(now)
        closed = bool(closed)
        schedule = [(now, closed)]
        t = now
        for _ in range(bounces):
            t += interval
            schedule.append((t, not closed))
            t += interval
            schedule.append((t, closed))
        self._schedule = schedule
        self.rest = closed
        self._settle(now)

    def is_closed(self, now):
        if self._schedule:
            self._settle(now)
        return self.closed

    def settled(self, now):
        """True once no chatter is pending."""
        self._settle(now)
        return not self._schedule

    def _settle(self, now):
        schedule = self._schedule
        i = 0
        while i < len(schedule) and schedule[i][0] <= now:
            self.closed = schedule[i][1]
            i += 1
        if i:
            self._schedule = schedule[i:]

    def other(self, node):
        if node == self.a:
            return self.b
        if node == self.b:
            return self.a
        return None


class SimPin(Pin):
    """One GPIO line of the simulated board; its level comes from the circuit."""

    __slots__ = ("number", "circuit", "mode", "pull", "out")

    def __init__(self, circuit, number):
        self.circuit = circuit
        self.number = number
        self.mode = Pin.IN
        self.pull = None
        self.out = 0

    def init(self, mode, pull=None, value=None):
        self._accept(mode, pull, value)

    def value(self, v=None):
        if v is None:
            return self.circuit.level(self.number)
        self.out = 1 if v else 0
        return None

    def driven_level(self):
        """The level this pin forces on its net, or None when it lets go."""
        if self.mode == Pin.OUT:
            return self.out
        if self.mode == Pin.OPEN_DRAIN and self.out == 0:
            return 0
        return None

    def __repr__(self):
        return "SimPin(%d)" % self.number


class Circuit:
    """Pins by number plus the contacts between them and the rails."""

    def __init__(self, numbers, clock):
        self.clock = clock
        self.numbers = list(numbers)
        self.pins = {}
        self.contacts = []
        self.shorts = 0
        self.floating_reads = 0

    def pin(self, number):
        """The line with this number (the same object every time)."""
        pin = self.pins.get(number)
        if pin is None:
            if number not in self.numbers:
                raise ValueError("no GPIO %r on this board" % (number,))
            pin = SimPin(self, number)
            self.pins[number] = pin
        return pin

    def add_contact(self, a, b):
        contact = Contact(a, b)
        self.contacts.append(contact)
        return contact

    def net(self, node, now):
        """Every node joined to ``node`` through closed contacts."""
        closed = [c for c in self.contacts if c.is_closed(now)]
        seen = [node]
        todo = [node]
        while todo:
            here = todo.pop()
            for contact in closed:
                there = contact.other(here)
                if there is not None and there not in seen:
                    seen.append(there)
                    todo.append(there)
        return seen

    def level(self, number, probe=False):
        """What an input on ``number`` reads now; an output reads its latch.

        ``probe`` looks without counting faults (a meter, not the firmware)."""
        pin = self.pin(number)
        if pin.mode == Pin.OUT:
            return pin.out
        now = self.clock()
        driven = None
        fight = False
        ups = 0
        downs = 0
        for node in self.net(number, now):
            if node == GND:
                level = 0
            elif node == VCC:
                level = 1
            else:
                other = self.pins.get(node)
                if other is None:
                    continue
                level = other.driven_level()
                if level is None:
                    if other.pull == Pin.PULL_UP:
                        ups += 1
                    elif other.pull == Pin.PULL_DOWN:
                        downs += 1
                    continue
            if driven is None:
                driven = level
            elif driven != level:
                fight = True
        if fight:
            if not probe:
                self.shorts += 1
            return 0
        if driven is not None:
            return driven
        if ups and not downs:
            return 1
        if downs and not ups:
            return 0
        if not probe:
            self.floating_reads += 1
        return 0

    def output_level(self, number):
        """The level an output pin is driving, or None if it is not an output."""
        pin = self.pins.get(number)
        if pin is None:
            return None
        return pin.driven_level()
