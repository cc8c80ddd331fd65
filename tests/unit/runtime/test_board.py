"""Board validation and wiring (plain tests: they run under MicroPython too)."""

import json

from firmware.runtime.board import (
    BoardError, build_hardware, check_board, open_backend, parse_board)


def good_board():
    return {
        "name": "bench",
        "backend": "sim",
        "gpio": {
            "pins": list(range(28)),
            "reserved": [{"pins": [14, 15], "for": "the serial UART"},
                         {"pins": [18, 19, 20, 21], "for": "I2S audio"}],
        },
        "keypad": {
            "rows": [5, 6],
            "columns": [12, 16, 24],
            "layout": [["1", "2", "3"], ["*", "0", "#"]],
            "active_low": True,
        },
        "hook": {"pin": 17, "active_low": True},
        "leds": {"line": {"pin": 27, "active_low": False},
                 "message": {"pin": 22, "active_low": True}},
        "ringer": {"pin": 4, "active_low": False},
        "display": {"port": "sim:lcd", "baudrate": 9600, "cols": 16, "rows": 2},
        "audio": {"capture": "tone:440", "playback": "memory", "rate": 8000},
        "features": ["leds", "ringer", "display", "audio"],
    }


def errors_of(data):
    return check_board(data)


def test_good_board_has_no_errors_and_gets_defaults():
    assert errors_of(good_board()) == []
    board = parse_board(good_board(), "bench.json")
    assert board.name == "bench" and board.backend == "sim"
    keypad = board.data["keypad"]
    assert keypad["pull"] == "up" and keypad["scan_interval_ms"] == 10
    assert keypad["debounce_scans"] == 3
    assert board.data["hook"]["debounce_ms"] == 20
    assert board.data["display"]["protocol"] == "serlcd"
    assert board.data["audio"]["period_ms"] == 20
    assert board.has("display") and not board.has("headset")


def test_every_mistake_is_reported_at_once_with_its_path():
    data = good_board()
    data["keypad"]["rows"] = [5, 6, 99]
    data["keypad"]["layout"].append(["7", "8", "9"])
    data["hook"]["pin"] = 5
    data["leds"]["line"]["pin"] = 14
    data["ringer"]["active_low"] = "yes"
    data["display"]["baudrate"] = 115200
    try:
        parse_board(data, "broken.json")
    except BoardError as e:
        assert e.errors == [
            "keypad.rows[2]: pin 99 is not a GPIO pin of this board",
            "hook.pin: pin 5 is already used by keypad.rows[0]",
            "leds.line.pin: pin 14 is reserved for the serial UART",
            'ringer.active_low: must be true or false, got "yes"',
            "display.baudrate: must be one of 2400, 4800, 9600, 14400, 19200, 38400, "
            "got number 115200",
        ]
        assert str(e).startswith("broken.json: 5 problems\n  keypad.rows[2]")
    else:
        raise AssertionError("a broken board was accepted")


def test_missing_functions():
    data = good_board()
    del data["hook"]
    del data["display"]
    assert errors_of(data) == ["hook: missing", 'display: missing (features lists "display")']


def test_wrong_types():
    data = good_board()
    data["name"] = 7
    data["keypad"]["columns"] = "12,16,24"
    data["leds"]["line"] = [27]
    data["audio"]["rate"] = "8000"
    data["features"] = "leds"
    assert errors_of(data) == [
        "name: must be a non-empty string, got number 7",
        'keypad.columns: must be a non-empty list of pin numbers, got "12,16,24"',
        "leds.line: must be an object, got list",
        'audio.rate: must be an integer, got "8000"',
        'features: must be a list of feature names, got "leds"',
    ]


def test_pin_numbers_must_be_integers_not_booleans_or_floats():
    data = good_board()
    data["hook"]["pin"] = True
    data["ringer"]["pin"] = 4.0
    assert errors_of(data) == [
        "hook.pin: must be a pin number (an integer), got boolean true",
        "ringer.pin: must be a pin number (an integer), got number 4.0",
    ]


def test_layout_must_fit_the_wiring_and_name_keys_once():
    data = good_board()
    data["keypad"]["layout"] = [["1", "2"], ["1", "0", "#"], ["x", "y", "z"]]
    assert errors_of(data) == [
        "keypad.layout: has 3 rows but keypad.rows lists 2 pins",
        "keypad.layout[0]: has 2 keys but keypad.columns lists 3 pins",
        'keypad.layout[1][0]: key "1" is already at keypad.layout[0][0]',
    ]


def test_unknown_keys_catch_typos():
    data = good_board()
    data["keypad"]["colums"] = data["keypad"].pop("columns")
    data["speaker"] = {}
    errors = errors_of(data)
    assert errors[0].startswith("speaker: unknown key (expected one of: name, ")
    assert errors[1].startswith("keypad.colums: unknown key (expected one of: rows, columns,")
    assert errors[2] == "keypad.columns: missing"
    assert len(errors) == 3


def test_features_and_backend_are_known_names():
    data = good_board()
    data["backend"] = "esp32"
    data["features"] = ["leds", "leds", "lasers"]
    assert errors_of(data) == [
        'backend: must be one of "rpi", "sim", got "esp32"',
        'features[1]: "leds" is listed twice',
        'features[2]: unknown feature "lasers" (known: "leds", "ringer", "display", '
        '"audio", "speakerphone", "headset")',
    ]


def test_gpio_section_problems():
    data = good_board()
    data["gpio"]["pins"] = [1, 1, "x"] + list(range(2, 28))
    data["gpio"]["reserved"].append({"pins": [40], "for": "nothing"})
    data["gpio"]["reserved"].append({"pins": [9]})
    assert errors_of(data) == [
        "gpio.pins[1]: pin 1 is listed twice",
        'gpio.pins[2]: must be a pin number (an integer >= 0), got "x"',
        "gpio.reserved[2].pins[0]: pin 40 is not a GPIO pin of this board",
        "gpio.reserved[3].for: missing",
    ]


def test_display_geometry_and_led_names():
    data = good_board()
    data["display"]["rows"] = 4
    data["display"]["cols"] = 24
    data["leds"]["Line 2"] = {"pin": 23, "active_low": False}
    assert errors_of(data) == [
        "leds.Line 2: an LED name is lower-case letters, digits and _",
        "display.cols: a 4-row HD44780 module is at most 20 columns wide",
    ]


def test_not_an_object_at_all():
    assert errors_of([1, 2]) == ["(board): must be an object, got list"]


def test_validation_does_not_change_the_input():
    data = good_board()
    before = json.dumps(data)
    parse_board(data)
    assert json.dumps(data) == before


def test_wired_sim_board_end_to_end():
    board = parse_board(good_board(), "bench.json")
    sim = open_backend(board)
    assert sim.name == "sim"
    hw = build_hardware(board, sim)
    hw.start()
    events = []
    sim.press("0")
    sim.lift(bounce=3)
    t = 0.0
    while t < 0.1:
        sim.set_time(t)
        events.extend(hw.tick(t))
        t = round(t + 0.005, 6)
    assert sorted(kind + ":" + str(arg) for kind, arg, _ in events) == [
        "key_down:0", "off_hook:None"]
    hw.leds.set("message", "on", t)
    assert sim.led("message") and not sim.led("line")
    hw.ringer.start([(1.0, 1.0)], t)
    assert sim.ringer_on()
    hw.display.set_lines(["ext 201", "ready"])
    hw.display.flush()
    assert sim.screen_text() == ["ext 201         ", "ready           "]
    assert hw.next_deadline() is not None
    audio = hw.audio_device()
    audio.open(8000, 160)
    hw.close()
    assert not sim.ringer_on()


def test_features_not_listed_are_not_built():
    data = good_board()
    data["features"] = []
    board = parse_board(data)
    hw = build_hardware(board, open_backend(board))
    assert hw.leds is None and hw.ringer is None and hw.display is None
    assert hw.keypad is not None and hw.hook is not None
    try:
        hw.audio_device()
    except ValueError:
        pass
    else:
        raise AssertionError("audio built without the feature")
