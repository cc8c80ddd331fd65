"""The ringer (a bell relay or an active buzzer on one output), played to a cadence.

Rule: the cadence is data handed in by the caller, a list of ``(on_s, off_s)``
pairs (the country tables live above this layer); this driver only turns it
into pin levels over time: ``start(cadence, now)``, ``stop()``, ``tick(now)``
and ``next_deadline()``. The ringer is never left on when it stops.
"""

from firmware.drivers.cadence import Cadence


class Ringer:
    """One ringer behind a ``Signal``: on() means sounding."""

    def __init__(self, signal):
        self._signal = signal
        self._cadence = None
        self._start = 0.0
        self._now = None
        self._on = False
        signal.value(0)

    @property
    def ringing(self):
        """True while a cadence is playing (in its on or its off part)."""
        return self._cadence is not None

    @property
    def sounding(self):
        return self._on

    def start(self, cadence, now, repeat=True):
        """Ring ``cadence`` from ``now``. A one-shot (``repeat=False``) stops by
        itself at its last on-to-off edge; a trailing silence is not waited out."""
        self._cadence = Cadence(cadence, repeat)
        self._start = now
        self._now = now
        self._apply(now)

    def stop(self):
        self._cadence = None
        self._set(False)

    def tick(self, now):
        self._now = now
        if self._cadence is not None:
            self._apply(now)

    def next_deadline(self):
        if self._cadence is None or self._now is None:
            return None
        change = self._cadence.next_change(self._now - self._start)
        if change is None:
            return None
        return self._start + change

    def _apply(self, now):
        elapsed = now - self._start
        cadence = self._cadence
        self._set(cadence.level(elapsed))
        if not cadence.repeat and cadence.next_change(elapsed) is None and not self._on:
            self._cadence = None

    def _set(self, on):
        if on != self._on:
            self._on = on
            self._signal.value(1 if on else 0)
