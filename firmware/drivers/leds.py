"""Indicator LEDs (line, message waiting, ringing, ...), steady or blinking.

Rule: each LED is a ``Signal`` (its polarity is the board's business) and has
a pattern: ``ON``, ``OFF`` or a cadence of ``(on_s, off_s)`` pairs whose phase
starts when it is set. ``tick(now)`` puts every LED at the level its pattern
gives for ``now`` and ``next_deadline()`` says when the next edge is due, so
the runtime sleeps exactly until something must change. Pins are written only
when their level changes.
"""

from firmware.drivers.cadence import Cadence

ON = "on"
OFF = "off"

# Customary patterns; any list of (on_s, off_s) pairs works too.
BLINK_SLOW = [(0.5, 0.5)]      # a call on hold
BLINK_FAST = [(0.125, 0.125)]  # an incoming call (the ringing LED)
FLASH = [(0.1, 1.9)]           # message waiting
WINK = [(0.9, 0.1)]            # line busy elsewhere


class _Led:
    __slots__ = ("signal", "pattern", "cadence", "start", "lit")

    def __init__(self, signal):
        self.signal = signal
        self.pattern = OFF
        self.cadence = None
        self.start = 0.0
        self.lit = None


class Leds:
    """A set of named LEDs. ``signals``: list of (name, Signal) pairs; all start off."""

    def __init__(self, signals):
        self._leds = []
        for name, signal in signals:
            self._leds.append((name, _Led(signal)))
        self._now = None
        for _, led in self._leds:
            self._apply(led, 0.0)

    def names(self):
        return [name for name, _ in self._leds]

    def _get(self, name):
        for known, led in self._leds:
            if known == name:
                return led
        raise ValueError("no LED named %r" % (name,))

    def set(self, name, pattern, now):
        """Give LED ``name`` a pattern (ON, OFF or a cadence), starting at ``now``.

        Setting the same cadence again keeps its phase, so callers may repeat
        themselves without making the LED stutter."""
        led = self._get(name)
        self._now = now
        if pattern == ON or pattern == OFF:
            led.cadence = None
        elif led.cadence is not None and led.pattern == pattern:
            return
        else:
            led.cadence = Cadence(pattern)
            led.start = now
        led.pattern = pattern
        self._apply(led, now)

    def pattern(self, name):
        return self._get(name).pattern

    def is_lit(self, name):
        """The level this driver last put on the LED."""
        return bool(self._get(name).lit)

    def tick(self, now):
        self._now = now
        for _, led in self._leds:
            self._apply(led, now)

    def next_deadline(self):
        """When the next LED edge is due, or None while every LED is steady."""
        if self._now is None:
            return None
        soonest = None
        for _, led in self._leds:
            if led.cadence is None:
                continue
            change = led.cadence.next_change(self._now - led.start)
            if change is None:
                continue
            at = led.start + change
            if soonest is None or at < soonest:
                soonest = at
        return soonest

    def _apply(self, led, now):
        if led.cadence is None:
            lit = led.pattern == ON
        else:
            lit = led.cadence.level(now - led.start)
        if lit != led.lit:
            led.lit = lit
            led.signal.value(1 if lit else 0)
