"""Keypad scanner against the simulated diode-less matrix (sim wiring, virtual time)."""

from firmware.drivers.keypad import KEY_DOWN, KEY_UP, Keypad, ambiguous_bits
from firmware.hal.api import Pin
from firmware.hal.sim import make_backend

ROWS = [5, 6, 13]
COLUMNS = [12, 16, 24]
LAYOUT = [["1", "2", "3"], ["4", "5", "6"], ["7", "8", "9"]]


def board(active_low=True):
    return {
        "gpio": {"pins": list(range(28))},
        "keypad": {"rows": ROWS, "columns": COLUMNS, "layout": LAYOUT,
                   "active_low": active_low},
    }


def rig(active_low=True, debounce_scans=3, scan_interval=0.01):
    sim = make_backend(board(active_low))
    pull = Pin.PULL_UP if active_low else Pin.PULL_DOWN
    rows = [sim.pin(n, Pin.IN) for n in ROWS]
    columns = [sim.pin(n, Pin.IN, pull) for n in COLUMNS]
    keypad = Keypad(rows, columns, LAYOUT, active_low, scan_interval, debounce_scans)
    return sim, keypad


class Clock:
    def __init__(self, sim, driver):
        self.sim = sim
        self.driver = driver
        self.now = 0.0

    def run(self, seconds, step=0.002):
        """Tick every ``step`` s for ``seconds``; returns the events."""
        events = []
        end = self.now + seconds
        while self.now < end - 1e-9:
            self.sim.set_time(self.now)
            events.extend(self.driver.tick(self.now))
            self.now = round(self.now + step, 6)
        return events


def names(events):
    return [(kind, key) for kind, key, _ in events]


def test_single_key_down_and_up_after_debounce():
    sim, keypad = rig()
    clock = Clock(sim, keypad)
    assert clock.run(0.05) == []
    sim.press("5")
    events = clock.run(0.1)
    assert names(events) == [(KEY_DOWN, "5")]
    # the third consecutive scan that sees the key reports it
    assert abs(events[0][2] - 0.07) < 1e-6
    assert keypad.pressed() == ["5"]
    sim.release("5")
    assert names(clock.run(0.1)) == [(KEY_UP, "5")]
    assert keypad.pressed() == []


def test_bouncing_contact_gives_one_event_each_way():
    sim, keypad = rig()
    clock = Clock(sim, keypad)
    sim.press("8", bounce=6, interval=0.003)
    events = clock.run(0.2, step=0.001)
    assert names(events) == [(KEY_DOWN, "8")]
    sim.release("8", bounce=6, interval=0.003)
    assert names(clock.run(0.2, step=0.001)) == [(KEY_UP, "8")]


def test_tap_shorter_than_debounce_is_ignored():
    sim, keypad = rig(debounce_scans=3)
    clock = Clock(sim, keypad)
    sim.press("1")
    first = clock.run(0.015)  # scans at 0.000 and 0.010 see it: two, not three
    sim.release("1")
    assert first + clock.run(0.1) == []
    assert keypad.pressed() == []


def test_scan_cadence_and_deadline():
    sim, keypad = rig(scan_interval=0.01)
    assert keypad.next_deadline() == 0.0
    keypad.tick(0.0)
    assert keypad.next_deadline() == 0.01
    keypad.tick(0.005)
    assert keypad.scans == 1
    keypad.tick(0.01)
    keypad.tick(0.0301)  # late: the next scan is an interval from now, no burst
    assert keypad.scans == 3
    assert abs(keypad.next_deadline() - 0.0401) < 1e-9


def test_several_keys_at_once_without_ambiguity():
    sim, keypad = rig()
    clock = Clock(sim, keypad)
    sim.press("1")
    sim.press("5")
    sim.press("9")
    events = names(clock.run(0.1))
    assert sorted(events) == [(KEY_DOWN, "1"), (KEY_DOWN, "5"), (KEY_DOWN, "9")]
    assert keypad.pressed() == ["1", "5", "9"]
    assert keypad.ambiguous_scans == 0


def test_two_keys_in_one_column_do_not_short_the_rows():
    sim, keypad = rig()
    clock = Clock(sim, keypad)
    sim.press("2")
    sim.press("5")
    sim.press("8")
    assert sorted(names(clock.run(0.1))) == [(KEY_DOWN, "2"), (KEY_DOWN, "5"), (KEY_DOWN, "8")]
    # idle rows are released, never driven against the active one
    assert sim.shorts == 0
    assert sim.floating_reads == 0


def test_matrix_shows_the_ghost_key_electrically():
    sim, keypad = rig()
    sim.press("1")
    sim.press("2")
    sim.press("4")
    masks = keypad.read_matrix()
    # "5" (row 1, column 1) was not pressed, yet the wiring reports it
    assert masks == [0b011, 0b011, 0b000]
    assert ambiguous_bits(masks) == [0b011, 0b011, 0b000]


def test_ghost_needs_three_corners():
    sim, keypad = rig()
    sim.press("1")
    sim.press("5")
    assert keypad.read_matrix() == [0b001, 0b010, 0b000]


def test_three_corners_at_once_give_no_key_at_all():
    sim, keypad = rig()
    clock = Clock(sim, keypad)
    sim.press("1")
    sim.press("2")
    sim.press("4")
    assert clock.run(0.2) == []
    assert keypad.pressed() == []
    assert keypad.ambiguous_scans > 0


def test_new_key_completing_a_rectangle_is_suppressed_until_it_is_unambiguous():
    sim, keypad = rig()
    clock = Clock(sim, keypad)
    sim.press("1")
    sim.press("2")
    assert sorted(names(clock.run(0.1))) == [(KEY_DOWN, "1"), (KEY_DOWN, "2")]
    sim.press("4")  # "5" appears with it: a rectangle of 1, 2, 4, 5
    assert clock.run(0.1) == []
    assert keypad.pressed() == ["1", "2"]
    sim.release("1")  # 2 and 4 alone are unambiguous again
    events = names(clock.run(0.1))
    assert sorted(events) == [(KEY_DOWN, "4"), (KEY_UP, "1")]
    assert keypad.pressed() == ["2", "4"]


def test_ghost_through_a_longer_path_is_suppressed_too():
    sim, keypad = rig()
    clock = Clock(sim, keypad)
    # 1-2 on row 0, 5-6 on row 1, 9 on row 2: row 2 reaches columns 0..2 through them
    for key in ("1", "2", "5", "6", "9"):
        sim.press(key)
    masks = keypad.read_matrix()
    assert masks == [0b111, 0b111, 0b111]
    assert clock.run(0.1) == []


def test_release_in_an_ambiguous_reading_still_counts():
    sim, keypad = rig()
    clock = Clock(sim, keypad)
    for key in ("1", "2", "4"):
        sim.press(key)
        clock.run(0.05)
    assert keypad.pressed() == ["1", "2"]
    sim.release("2")
    # same scan, so layout order: "2" (row 0) before "4" (row 1)
    assert names(clock.run(0.1)) == [(KEY_UP, "2"), (KEY_DOWN, "4")]


def test_active_high_matrix_with_pull_downs():
    sim, keypad = rig(active_low=False)
    clock = Clock(sim, keypad)
    sim.press("6")
    assert names(clock.run(0.1)) == [(KEY_DOWN, "6")]
    sim.release("6")
    assert names(clock.run(0.1)) == [(KEY_UP, "6")]
    assert sim.shorts == 0


def test_idle_rows_are_released_between_scans():
    sim, keypad = rig()
    keypad.tick(0.0)
    for n in ROWS:
        assert sim.circuit.pin(n).mode == Pin.IN


def test_layout_must_match_wiring():
    sim = make_backend(board())
    rows = [sim.pin(n) for n in ROWS]
    columns = [sim.pin(n, Pin.IN, Pin.PULL_UP) for n in COLUMNS]
    try:
        Keypad(rows, columns, LAYOUT[:2])
    except ValueError as e:
        assert "rows" in str(e)
    else:
        raise AssertionError("a layout with too few rows was accepted")
