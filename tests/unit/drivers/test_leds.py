"""LED patterns and cadence arithmetic, observed on the simulated pins."""

from firmware.drivers.cadence import Cadence
from firmware.drivers.leds import BLINK_SLOW, OFF, ON, Leds
from firmware.hal.api import Pin, Signal
from firmware.hal.sim import make_backend

WIRING = {"line": (27, False), "message": (22, True), "ringing": (23, False)}


def rig():
    leds = {}
    for name, (pin, active_low) in WIRING.items():
        leds[name] = {"pin": pin, "active_low": active_low}
    sim = make_backend({"gpio": {"pins": list(range(28))}, "leds": leds})
    signals = []
    for name in ("line", "message", "ringing"):
        pin, active_low = WIRING[name]
        out = sim.pin(pin, Pin.OUT, None, 1 if active_low else 0)
        signals.append((name, Signal(out, invert=active_low)))
    return sim, Leds(signals)


def sample(sim, leds, name, times):
    seen = []
    for t in times:
        sim.set_time(t)
        leds.tick(t)
        seen.append(sim.led(name))
    return seen


def test_all_start_dark_whatever_the_polarity():
    sim, leds = rig()
    for name in WIRING:
        assert not sim.led(name)
    # the active-low LED is dark because its pin is high
    assert sim.pin_level(22) == 1


def test_steady_on_and_off_drive_the_right_level():
    sim, leds = rig()
    leds.set("message", ON, 0.0)
    assert sim.led("message")
    assert sim.pin_level(22) == 0
    leds.set("line", ON, 0.0)
    assert sim.pin_level(27) == 1
    leds.set("message", OFF, 1.0)
    assert not sim.led("message")
    assert sim.led("line")
    assert leds.next_deadline() is None


def test_blink_edges_fall_on_the_virtual_clock():
    sim, leds = rig()
    leds.set("ringing", [(0.2, 0.3)], 10.0)
    times = [10.0, 10.1, 10.199, 10.2, 10.45, 10.5, 10.7, 10.75]
    assert sample(sim, leds, "ringing", times) == [
        True, True, True, False, False, True, False, False]


def test_deadline_is_the_next_edge():
    sim, leds = rig()
    leds.set("line", BLINK_SLOW, 2.0)
    assert abs(leds.next_deadline() - 2.5) < 1e-9
    leds.tick(2.5)
    assert abs(leds.next_deadline() - 3.0) < 1e-9
    leds.set("ringing", [(0.1, 0.1)], 2.5)
    assert abs(leds.next_deadline() - 2.6) < 1e-9


def test_setting_the_same_cadence_keeps_its_phase():
    sim, leds = rig()
    leds.set("line", BLINK_SLOW, 0.0)
    leds.tick(0.6)
    assert not sim.led("line")
    leds.set("line", BLINK_SLOW, 0.6)  # repeated, not restarted
    assert not sim.led("line")
    leds.set("line", [(0.25, 0.25)], 0.6)  # a new cadence starts lit
    assert sim.led("line")


def test_a_late_tick_does_not_shift_the_phase():
    sim, leds = rig()
    leds.set("line", [(1.0, 1.0)], 0.0)
    assert sample(sim, leds, "line", [1.7, 2.2, 3.9, 4.0]) == [False, True, False, True]


def test_pins_written_only_on_change():
    writes = []

    class CountingPin(Pin):
        def value(self, v=None):
            if v is not None:
                writes.append(v)

    leds = Leds([("line", Signal(CountingPin()))])
    leds.set("line", BLINK_SLOW, 0.0)
    for i in range(10):
        leds.tick(i * 0.1)  # 0.0 .. 0.9: one edge at 0.5
    assert writes == [0, 1, 0]


def test_unknown_led_is_an_error():
    sim, leds = rig()
    try:
        leds.set("mute", ON, 0.0)
    except ValueError as e:
        assert "mute" in str(e)
    else:
        raise AssertionError("an unknown LED was accepted")


def test_cadence_multi_step_pattern():
    # a UK-style double ring: 0.4 on, 0.2 off, 0.4 on, 2.0 off
    c = Cadence([(0.4, 0.2), (0.4, 2.0)])
    assert c.period == 3000
    assert [c.level(t) for t in (0.0, 0.39, 0.4, 0.6, 0.99, 1.0, 2.99, 3.0)] == [
        True, True, False, True, True, False, False, True]
    assert c.next_change(0.0) == 0.4
    assert c.next_change(0.5) == 0.6
    assert c.next_change(1.5) == 3.0


def test_cadence_merges_equal_neighbours_and_constant_patterns():
    c = Cadence([(0.5, 0.0), (0.5, 0.0)])
    assert c.level(0.7) and c.next_change(0.7) is None
    c = Cadence([(0.0, 1.0)])
    assert not c.level(0.3) and c.next_change(0.3) is None
    c = Cadence([(0.3, 0.0), (0.2, 0.5)])  # on 0.5 s then off 0.5 s
    assert c.next_change(0.1) == 0.5
    assert c.next_change(0.6) == 1.0


def test_one_shot_cadence_ends_dark():
    c = Cadence([(0.2, 0.1), (0.2, 0.1)], repeat=False)
    assert c.level(0.25) is False and c.level(0.35) is True
    assert c.next_change(0.35) == 0.5
    assert c.next_change(0.55) is None
    assert c.level(0.7) is False and c.level(5.0) is False


def test_bad_cadences_are_refused():
    for bad in ([], [(0.0, 0.0)], [(1.0,)], [(-0.1, 0.5)]):
        try:
            Cadence(bad)
        except ValueError:
            continue
        raise AssertionError("cadence %r was accepted" % (bad,))
