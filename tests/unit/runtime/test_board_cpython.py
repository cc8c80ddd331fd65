"""Board files on disk, the shipped boards, and the Pi backend over a fake RPi.GPIO."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from firmware.hal.api import Pin
from firmware.hal.rpi import make_backend as make_rpi_backend
from firmware.hal.sim.audio import SimAudio, read_wav, write_wav
from firmware.runtime.board import BoardError, build_hardware, load_board, open_backend

ROOT = Path(__file__).resolve().parents[3]
BOARDS = sorted((ROOT / "boards").glob("*.json"))


def test_all_three_boards_are_shipped():
    assert {p.stem for p in BOARDS} >= {"sim", "rpi4-deskphone", "rpi-zero2w-handset"}


@pytest.mark.parametrize("path", BOARDS, ids=lambda p: p.stem)
def test_shipped_board_is_valid(path):
    board = load_board(str(path))
    assert board.name == path.stem
    # every pin of the board is claimed once, none on the UART or the I2S/PCM lines
    data = board.data
    pins = list(data["keypad"]["rows"]) + list(data["keypad"]["columns"])
    pins += [data["hook"]["pin"], data["ringer"]["pin"]]
    pins += [led["pin"] for led in data["leds"].values()]
    assert len(pins) == len(set(pins))
    assert not set(pins) & {14, 15, 18, 19, 20, 21}


def test_sim_board_mirrors_the_desk_phone():
    sim = json.loads((ROOT / "boards/sim.json").read_text())
    desk = json.loads((ROOT / "boards/rpi4-deskphone.json").read_text())
    for section in ("gpio", "keypad", "hook", "leds", "ringer"):
        assert sim[section] == desk[section], section


def test_invalid_json_is_reported_with_its_position(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"name": "x",\n  "backend": }')
    with pytest.raises(BoardError) as info:
        load_board(str(path))
    assert "not valid JSON" in info.value.errors[0]
    assert "line 2" in info.value.errors[0]


def test_missing_file(tmp_path):
    with pytest.raises(BoardError) as info:
        load_board(str(tmp_path / "nope.json"))
    assert info.value.errors[0].startswith("cannot read the file")


def test_broken_file_lists_every_problem(tmp_path):
    data = json.loads((ROOT / "boards/rpi4-deskphone.json").read_text())
    data["keypad"]["rows"][2] = 99
    data["leds"]["ringing"]["pin"] = 17
    data["hook"]["active_low"] = 1
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(data))
    with pytest.raises(BoardError) as info:
        load_board(str(path))
    assert info.value.errors == [
        "keypad.rows[2]: pin 99 is not a GPIO pin of this board",
        "hook.active_low: must be true or false, got number 1",
        "leds.ringing.pin: pin 17 is already used by hook.pin",
    ]
    assert str(info.value).startswith(str(path) + ": 3 problems")


def test_runtime_imports_no_backend_until_asked():
    code = ("import sys; import firmware.runtime.board as b; "
            "print(sorted(m for m in sys.modules if m.startswith('firmware.hal.')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "['firmware.hal.api']"


def test_shipped_sim_board_runs():
    board = load_board(str(ROOT / "boards/sim.json"))
    sim = open_backend(board)
    hw = build_hardware(board, sim)
    hw.start()
    hw.display.set_lines(["Desk phone", "", "", "ready"])
    hw.display.flush()
    assert sim.screen_text()[3].rstrip() == "ready"
    sim.press("redial")
    events = []
    for i in range(10):
        sim.set_time(i * 0.01)
        events += hw.tick(i * 0.01)
    assert [(kind, key) for kind, key, _ in events] == [("key_down", "redial")]


def test_sim_audio_wav_round_trip(tmp_path):
    source = tmp_path / "in.wav"
    tone = SimAudio("tone:500", "memory")
    tone.open(16000, 320)
    pcm = tone.read_frame() + tone.read_frame()
    write_wav(str(source), 16000, pcm)
    assert read_wav(str(source)) == (16000, pcm)
    out = tmp_path / "out.wav"
    dev = SimAudio("wav:" + str(source), "wav:" + str(out))
    dev.open(8000, 160)
    frame = dev.read_frame()  # 16 kHz read at 8 kHz: every other sample
    assert frame == bytes(b for i in range(0, 640, 4) for b in pcm[i:i + 2])
    dev.write_frame(frame)
    dev.close()
    assert read_wav(str(out)) == (8000, frame)


# -- the Pi backend, off the Pi ------------------------------------------


class FakeGPIO:
    """Just enough of RPi.GPIO: records calls, models pulls and outputs."""

    BCM = 11
    IN, OUT = 1, 0
    LOW, HIGH = 0, 1
    PUD_OFF, PUD_DOWN, PUD_UP = 20, 21, 22

    def __init__(self):
        self.calls = []
        self.config = {}
        self.levels = {}
        self.external = {}
        self.mode = None

    def setwarnings(self, flag):
        pass

    def setmode(self, mode):
        self.mode = mode

    def setup(self, channel, direction, pull_up_down=None, initial=None):
        self.calls.append(("setup", channel, direction, pull_up_down, initial))
        self.config[channel] = (direction, pull_up_down)
        if direction == self.OUT:
            self.levels[channel] = initial

    def output(self, channel, level):
        assert self.config[channel][0] == self.OUT
        self.calls.append(("output", channel, level))
        self.levels[channel] = level

    def input(self, channel):
        direction, pull = self.config[channel]
        if direction == self.OUT:
            return self.levels[channel]
        if channel in self.external:
            return self.external[channel]
        return 1 if pull == self.PUD_UP else 0

    def cleanup(self, channels):
        self.calls.append(("cleanup", list(channels)))


class FakeSerialModule:
    class Serial:
        opened = []

        def __init__(self, port, baudrate, timeout=None, write_timeout=None):
            self.port, self.baudrate, self.timeout = port, baudrate, timeout
            self.written = b""
            self.in_waiting = 0
            self.closed = False
            FakeSerialModule.Serial.opened.append(self)

        def write(self, data):
            self.written += data
            return len(data)

        def read(self, n):
            return b"x" * n

        def close(self):
            self.closed = True


def rpi_board(name="rpi4-deskphone"):
    return load_board(str(ROOT / "boards" / (name + ".json")))


def test_rpi_pin_translation():
    gpio = FakeGPIO()
    backend = make_rpi_backend(rpi_board().data, None, gpio, FakeSerialModule)
    assert gpio.mode == gpio.BCM
    pin = backend.pin(5, Pin.IN, Pin.PULL_UP)
    assert gpio.calls[-1] == ("setup", 5, gpio.IN, gpio.PUD_UP, None)
    assert pin.value() == 1
    pin.init(Pin.OUT, None, 0)
    assert gpio.calls[-1] == ("setup", 5, gpio.OUT, None, gpio.LOW)
    pin.value(1)
    assert gpio.calls[-1] == ("output", 5, gpio.HIGH) and pin.value() == 1
    with pytest.raises(ValueError):
        backend.pin(99)


def test_rpi_open_drain_is_emulated_by_direction():
    gpio = FakeGPIO()
    backend = make_rpi_backend(rpi_board().data, None, gpio, FakeSerialModule)
    pin = backend.pin(6, Pin.OPEN_DRAIN, None, 1)
    assert gpio.config[6] == (gpio.IN, gpio.PUD_OFF)
    pin.value(0)
    assert gpio.calls[-1] == ("setup", 6, gpio.OUT, None, gpio.LOW)
    pin.value(1)
    assert gpio.config[6] == (gpio.IN, gpio.PUD_OFF)


def test_rpi_board_wiring_and_cleanup():
    gpio = FakeGPIO()
    FakeSerialModule.Serial.opened = []
    board = rpi_board("rpi-zero2w-handset")
    backend = make_rpi_backend(board.data, None, gpio, FakeSerialModule)
    hw = build_hardware(board, backend)
    # keypad columns pulled up, rows released, hook pulled up
    for column in board.data["keypad"]["columns"]:
        assert gpio.config[column] == (gpio.IN, gpio.PUD_UP)
    for row in board.data["keypad"]["rows"]:
        assert gpio.config[row] == (gpio.IN, gpio.PUD_OFF)
    assert gpio.config[16] == (gpio.IN, gpio.PUD_UP)
    # active-low LEDs start dark: their pins high
    assert gpio.levels[23] == gpio.HIGH and gpio.levels[24] == gpio.HIGH
    assert gpio.levels[25] == gpio.LOW  # ringer silent
    port = FakeSerialModule.Serial.opened[-1]
    assert (port.port, port.baudrate, port.timeout) == ("/dev/serial0", 9600, 0)
    hw.start()
    assert port.written.startswith(b"\xfe\x0c\xfe\x06\xfe\x01")
    # a scan drives each row low in turn and reads the (pulled-up) columns
    gpio.calls = []
    assert hw.keypad.tick(0.0) == []
    setups = [c for c in gpio.calls if c[0] == "setup"]
    assert setups[0] == ("setup", 17, gpio.OUT, None, gpio.LOW)
    assert setups[1] == ("setup", 17, gpio.IN, gpio.PUD_OFF, None)
    assert len(setups) == 2 * len(board.data["keypad"]["rows"])
    hw.close()
    assert gpio.calls[-1][0] == "cleanup"
    assert 17 in gpio.calls[-1][1] and port.closed


def test_rpi_uart_never_blocks():
    backend = make_rpi_backend(rpi_board().data, None, FakeGPIO(), FakeSerialModule)
    uart = backend.uart("/dev/serial0", 9600)
    assert uart.read(10) == b"" and uart.any() == 0
    FakeSerialModule.Serial.opened[-1].in_waiting = 3
    assert uart.read(10) == b"xxx"


def test_rpi_audio_is_an_unopened_alsa_device():
    backend = make_rpi_backend(rpi_board().data, None, FakeGPIO(), FakeSerialModule)
    device = backend.audio("plughw:CARD=Device,DEV=0", "plughw:CARD=Device,DEV=0")
    assert type(device).__name__ == "AlsaAudio"
    assert device.underruns == 0 and device.overruns == 0
