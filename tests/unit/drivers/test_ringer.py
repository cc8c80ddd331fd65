"""Ringer cadences on the simulated ringer output (virtual time)."""

from firmware.drivers.ringer import Ringer
from firmware.hal.api import Pin, Signal
from firmware.hal.sim import make_backend

RING_PIN = 4
DOUBLE_RING = [(0.4, 0.2), (0.4, 2.0)]


def rig(active_low=False):
    sim = make_backend({"gpio": {"pins": list(range(28))},
                        "ringer": {"pin": RING_PIN, "active_low": active_low}})
    pin = sim.pin(RING_PIN, Pin.OUT, None, 1 if active_low else 0)
    return sim, Ringer(Signal(pin, invert=active_low))


def timeline(sim, ringer, start, end, step=0.1):
    seen = []
    t = start
    while t < end - 1e-9:
        sim.set_time(t)
        ringer.tick(t)
        seen.append(sim.ringer_on())
        t = round(t + step, 6)
    return seen


def test_silent_until_started():
    sim, ringer = rig()
    assert not sim.ringer_on()
    assert not ringer.ringing
    assert ringer.next_deadline() is None


def test_follows_the_cadence_given_as_data():
    sim, ringer = rig()
    ringer.start(DOUBLE_RING, 1.0)
    seen = timeline(sim, ringer, 1.0, 4.0)
    on = [round(1.0 + i * 0.1, 1) for i, level in enumerate(seen) if level]
    assert on == [1.0, 1.1, 1.2, 1.3, 1.6, 1.7, 1.8, 1.9]
    # and again after the 3 s period
    assert timeline(sim, ringer, 4.0, 4.5) == [True, True, True, True, False]


def test_deadlines_walk_the_edges():
    sim, ringer = rig()
    ringer.start(DOUBLE_RING, 0.0)
    edges = []
    for _ in range(5):
        at = ringer.next_deadline()
        edges.append(round(at, 3))
        ringer.tick(at)
    assert edges == [0.4, 0.6, 1.0, 3.0, 3.4]


def test_stop_leaves_it_silent_even_mid_ring():
    sim, ringer = rig(active_low=True)
    ringer.start([(1.0, 1.0)], 0.0)
    assert sim.ringer_on() and sim.pin_level(RING_PIN) == 0
    ringer.stop()
    assert not sim.ringer_on() and sim.pin_level(RING_PIN) == 1
    assert not ringer.ringing
    assert timeline(sim, ringer, 0.0, 3.0) == [False] * 30


def test_one_shot_rings_once_and_finishes():
    sim, ringer = rig()
    ringer.start([(0.3, 0.2), (0.3, 0.5)], 0.0, repeat=False)
    seen = timeline(sim, ringer, 0.0, 2.0)
    assert seen[:8] == [True, True, True, False, False, True, True, True]
    assert seen[8:] == [False] * 12
    assert not ringer.ringing
    assert ringer.next_deadline() is None


def test_restart_with_another_cadence():
    sim, ringer = rig()
    ringer.start([(2.0, 4.0)], 0.0)
    ringer.tick(2.5)
    assert not sim.ringer_on()
    ringer.start([(0.1, 0.1)], 2.5)
    assert sim.ringer_on()
    assert abs(ringer.next_deadline() - 2.6) < 1e-9
