"""The hook switch: a debounced off-hook / on-hook state from one input.

Rule: the switch is a ``Signal`` whose value is 1 while the handset is lifted
(active-low wiring is the board's business). It is sampled every
``sample_interval`` seconds; the reported state changes only after
``stable_samples`` consecutive samples agree on the new position, so contact
bounce never produces an event. ``tick(now)`` returns the events:
``(OFF_HOOK, None, now)`` and ``(ON_HOOK, None, now)``.
"""

OFF_HOOK = "off_hook"
ON_HOOK = "on_hook"

# a tick this much early still counts: sums of float intervals drift by a few ulps
TOLERANCE = 1e-6


class HookSwitch:
    def __init__(self, signal, sample_interval=0.005, stable_samples=4, now=0.0):
        if stable_samples < 1:
            raise ValueError("stable_samples must be at least 1")
        self._signal = signal
        self.sample_interval = sample_interval
        self.stable_samples = stable_samples
        # the position at start-up is taken as settled: no event for it
        self._off_hook = bool(signal.value())
        self._disagreeing = 0
        self._next_sample = now

    @property
    def off_hook(self):
        """The debounced position: True while the handset is lifted."""
        return self._off_hook

    def next_deadline(self):
        return self._next_sample

    def tick(self, now):
        """Sample if a sample is due; returns a list of events (maybe empty)."""
        if now + TOLERANCE < self._next_sample:
            return []
        # never catch up with a burst of samples: the next one is an interval away
        self._next_sample = now + self.sample_interval
        raw = bool(self._signal.value())
        if raw == self._off_hook:
            self._disagreeing = 0
            return []
        self._disagreeing += 1
        if self._disagreeing < self.stable_samples:
            return []
        self._disagreeing = 0
        self._off_hook = raw
        return [(OFF_HOOK if raw else ON_HOOK, None, now)]
