"""Hook switch debounce against the simulated hook contact (virtual time)."""

from firmware.drivers.hook import OFF_HOOK, ON_HOOK, HookSwitch
from firmware.hal.api import Pin, Signal
from firmware.hal.sim import make_backend

HOOK_PIN = 17


def rig(active_low=True, stable_samples=4, lifted=False):
    sim = make_backend({"gpio": {"pins": list(range(28))},
                        "hook": {"pin": HOOK_PIN, "active_low": active_low}})
    if lifted:
        sim.lift()
    pull = Pin.PULL_UP if active_low else Pin.PULL_DOWN
    signal = Signal(sim.pin(HOOK_PIN, Pin.IN, pull), invert=active_low)
    return sim, HookSwitch(signal, sample_interval=0.005, stable_samples=stable_samples)


def run(sim, hook, start, seconds, step=0.001):
    events = []
    t = start
    while t < start + seconds - 1e-9:
        sim.set_time(t)
        events.extend(hook.tick(t))
        t = round(t + step, 6)
    return events


def kinds(events):
    return [kind for kind, _, _ in events]


def test_clean_lift_and_hang_up():
    sim, hook = rig()
    assert run(sim, hook, 0.0, 0.1) == []
    assert not hook.off_hook
    sim.set_time(0.1)
    sim.lift()
    events = run(sim, hook, 0.1, 0.1)
    assert kinds(events) == [OFF_HOOK]
    # samples at 0.100, .105, .110, .115 all agree: the fourth reports
    assert abs(events[0][2] - 0.115) < 1e-6
    assert hook.off_hook
    sim.set_time(0.2)
    sim.hang_up()
    assert kinds(run(sim, hook, 0.2, 0.1)) == [ON_HOOK]
    assert not hook.off_hook


def test_bounce_gives_exactly_one_event():
    sim, hook = rig()
    sim.lift(bounce=5, interval=0.002)  # chatters for 20 ms
    events = run(sim, hook, 0.0, 0.2)
    assert kinds(events) == [OFF_HOOK]
    # no event before the chatter is over
    assert events[0][2] >= 0.020
    sim.set_time(0.2)
    sim.hang_up(bounce=5, interval=0.002)
    assert kinds(run(sim, hook, 0.2, 0.2)) == [ON_HOOK]


def test_chatter_is_really_seen_by_the_pin():
    sim, hook = rig()
    pin = sim.pin(HOOK_PIN, Pin.IN, Pin.PULL_UP)
    sim.lift(bounce=2, interval=0.001)
    levels = []
    for i in range(6):
        sim.set_time(i * 0.001)
        levels.append(pin.value())
    # lifted closes the contact to ground: 0, then back to 1, ... resting at 0
    assert levels == [0, 1, 0, 1, 0, 0]


def test_glitch_shorter_than_debounce_is_ignored():
    sim, hook = rig(stable_samples=4)
    sim.lift()
    first = run(sim, hook, 0.0, 0.012)  # three samples see it
    sim.set_time(0.012)
    sim.hang_up()
    assert first + run(sim, hook, 0.012, 0.1) == []
    assert not hook.off_hook


def test_start_up_position_is_taken_without_an_event():
    sim, hook = rig(lifted=True)
    assert hook.off_hook
    assert run(sim, hook, 0.0, 0.1) == []


def test_active_high_wiring():
    sim, hook = rig(active_low=False)
    sim.lift()
    assert kinds(run(sim, hook, 0.0, 0.1)) == [OFF_HOOK]
    assert sim.pin_level(HOOK_PIN) == 1


def test_deadline_follows_sampling():
    sim, hook = rig()
    assert hook.next_deadline() == 0.0
    hook.tick(0.0)
    assert hook.next_deadline() == 0.005
    assert hook.tick(0.003) == []
    assert hook.next_deadline() == 0.005
