"""The simulated hardware itself: nets, contacts, the serial cable, the LCD decoder.

Drivers are only as well tested as the model they run against, so the model's
physics gets its own checks.
"""

from firmware.hal.api import Pin, Signal
from firmware.hal.sim import make_backend
from firmware.hal.sim.circuit import GND, VCC, Circuit
from firmware.hal.sim.serial import loopback
from firmware.hal.sim.serlcd import SerLcd


def circuit():
    now = [0.0]
    return Circuit(range(10), lambda: now[0]), now


def test_pull_resistors_decide_an_undriven_net():
    c, _ = circuit()
    c.pin(1).init(Pin.IN, Pin.PULL_UP)
    c.pin(2).init(Pin.IN, Pin.PULL_DOWN)
    assert c.pin(1).value() == 1
    assert c.pin(2).value() == 0
    assert c.floating_reads == 0
    c.pin(3).init(Pin.IN)
    assert c.pin(3).value() == 0 and c.floating_reads == 1


def test_a_driver_wins_over_pulls_and_a_fight_is_a_short():
    c, _ = circuit()
    link = c.add_contact(1, 2)
    c.pin(1).init(Pin.IN, Pin.PULL_UP)
    c.pin(2).init(Pin.OUT, None, 0)
    assert c.pin(1).value() == 1  # contact open
    link.move(True, 0.0)
    assert c.pin(1).value() == 0
    c.pin(3).init(Pin.OUT, None, 1)
    c.add_contact(2, 3).move(True, 0.0)
    c.pin(1).value()
    assert c.shorts == 1


def test_open_drain_pulls_low_or_lets_go():
    c, _ = circuit()
    c.add_contact(4, 5).move(True, 0.0)
    c.pin(4).init(Pin.OPEN_DRAIN, None, 1)
    c.pin(5).init(Pin.IN, Pin.PULL_UP)
    assert c.pin(5).value() == 1
    c.pin(4).value(0)
    assert c.pin(5).value() == 0


def test_rails():
    c, _ = circuit()
    c.pin(6).init(Pin.IN, Pin.PULL_UP)
    c.add_contact(6, GND).move(True, 0.0)
    assert c.pin(6).value() == 0
    c.pin(7).init(Pin.IN, Pin.PULL_DOWN)
    c.add_contact(7, VCC).move(True, 0.0)
    assert c.pin(7).value() == 1


def test_contact_bounce_schedule():
    c, now = circuit()
    contact = c.add_contact(1, GND)
    contact.move(True, 1.0, bounces=2, interval=0.01)
    seen = []
    for t in (0.999, 1.0, 1.005, 1.01, 1.02, 1.03, 1.04, 2.0):
        seen.append(contact.is_closed(t))
    assert seen == [True, True, True, False, True, False, True, True]
    assert contact.settled(2.0) and contact.rest


def test_unknown_pin_numbers_are_refused():
    sim = make_backend({"gpio": {"pins": [1, 2]}})
    try:
        sim.pin(99)
    except ValueError as e:
        assert "99" in str(e)
    else:
        raise AssertionError("pin 99 was handed out")


def test_back_door_refuses_what_the_board_lacks():
    sim = make_backend({"gpio": {"pins": [1]}})
    for action in (lambda: sim.press("5"), sim.lift, lambda: sim.led("line"), sim.ringer_on):
        try:
            action()
        except ValueError:
            continue
        raise AssertionError("the back door invented hardware")


def test_loopback_carries_bytes_both_ways_in_order():
    a, b = loopback(9600)
    assert a.write(b"hello") == 5
    assert b.any() == 5
    assert b.read(2) == b"he"
    assert b.read() == b"llo"
    assert b.read() == b"" and b.any() == 0
    b.write(bytearray(b"ok"))
    assert a.read(10) == b"ok"
    assert a.bytes_written == 5 and b.bytes_written == 2


def test_speed_mismatch_loses_bytes():
    a, b = loopback(19200, 9600)
    a.write(b"garbled")
    assert b.any() == 0 and b.framing_errors == 7


def test_display_at_the_wrong_speed_shows_nothing():
    sim = make_backend({"gpio": {"pins": []},
                        "display": {"port": "p", "baudrate": 9600, "cols": 16, "rows": 2}})
    uart = sim.uart("p", 19200)
    uart.write(b"hello")
    assert sim.screen_text()[0] == " " * 16
    assert sim.display().end.framing_errors == 5


def test_backpack_speed_change_takes_effect_mid_stream():
    sim = make_backend({"gpio": {"pins": []},
                        "display": {"port": "p", "baudrate": 9600, "cols": 16, "rows": 2}})
    uart = sim.uart("p", 9600)
    uart.write(b"A\x7c\x0fB")  # set 19200 bit/s: "B" still goes out at 9600
    assert sim.screen_text()[0].rstrip() == "A"
    fast = sim.uart("p", 19200)
    fast.write(b"C")
    assert sim.screen_text()[0].rstrip() == "AC"


def test_hd44780_line_overflow_goes_where_the_chip_puts_it():
    lcd = SerLcd(16, 2)
    lcd.feed(b"0123456789abcdefXYZ")  # 19 chars: the last 3 land off-glass at 0x10
    assert lcd.lines() == ["0123456789abcdef", " " * 16]
    wide = SerLcd(20, 4)
    wide.feed(b"01234567890123456789next")
    assert wide.lines()[0] == "01234567890123456789"
    assert wide.lines()[2].rstrip() == "next"  # line 0 continues on row 2


def test_hd44780_instructions():
    lcd = SerLcd(16, 2)
    lcd.feed(b"\xfe\x80abc\xfe\xc5def")  # row 0 col 0, then row 1 col 5
    assert lcd.lines() == ["abc" + " " * 13, "     def" + " " * 8]
    assert lcd.cursor() == (1, 8)
    lcd.feed(b"\xfe\x10\xfe\x10X")  # cursor left twice, overwrite "e"
    assert lcd.lines()[1].rstrip() == "     dXf"
    lcd.feed(b"\xfe\x04\xfe\x8f<-")  # entry mode: decrement
    assert lcd.lines()[0] == "abc" + " " * 11 + "-<"
    lcd.feed(b"\xfe\x08")  # display off: nothing visible, memory kept
    assert lcd.lines() == [" " * 16, " " * 16]
    lcd.feed(b"\xfe\x0c\xfe\x01")
    assert lcd.lines() == [" " * 16, " " * 16] and lcd.cursor() == (0, 0)
    assert lcd.lcd.increment  # clear restores increment mode


def test_display_shift_moves_the_window():
    lcd = SerLcd(16, 2)
    lcd.feed(b"ABCDEFGHIJKLMNOPQRST")
    lcd.feed(b"\xfe\x18")  # shift display left: the text moves left by one
    assert lcd.lines()[0] == "BCDEFGHIJKLMNOPQ"
    lcd.feed(b"\xfe\x02")  # home undoes the shift
    assert lcd.lines()[0] == "ABCDEFGHIJKLMNOP"


def test_backpack_settings():
    lcd = SerLcd(16, 2)
    lcd.feed(b"\x7c\x80")
    assert lcd.backlight == 0
    lcd.feed(b"\x7c\x9d\x7c\x03\x7c\x05")
    assert lcd.backlight == 29 and lcd.cols == 20 and lcd.rows == 4
    lcd.feed(b"\x7c\x63")
    assert lcd.unknown_settings == 1
    assert lcd.lines() == [" " * 20] * 4


def test_led_reads_the_pin_level_through_the_load_polarity():
    sim = make_backend({"gpio": {"pins": [3]}, "leds": {"mwi": {"pin": 3, "active_low": True}}})
    assert not sim.led("mwi")  # not even an output yet
    signal = Signal(sim.pin(3, Pin.OUT, None, 1), invert=True)
    assert not sim.led("mwi")
    signal.on()
    assert sim.led("mwi") and sim.pin_level(3) == 0


def test_external_clock_drives_the_bounce():
    t = [0.0]
    sim = make_backend({"gpio": {"pins": [9]}, "hook": {"pin": 9, "active_low": True}},
                       clock=lambda: t[0])
    pin = sim.pin(9, Pin.IN, Pin.PULL_UP)
    sim.lift(bounce=1, interval=0.5)
    levels = []
    for now in (0.0, 0.6, 1.1):
        t[0] = now
        levels.append(pin.value())
    assert levels == [0, 1, 0]
    try:
        sim.set_time(5.0)
    except RuntimeError:
        pass
    else:
        raise AssertionError("virtual time moved under an external clock")
