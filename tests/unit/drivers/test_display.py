"""Character display driver: what reaches the glass and how many bytes it took.

The screen is read back from the simulated SerLCD/HD44780 decoder fed by the
very bytes the driver wrote to its UART; byte counts come from the UART.
"""

from firmware.drivers.display import CharDisplay, advance, encode
from firmware.hal.sim import make_backend


def rig(cols=16, rows=2):
    sim = make_backend({"gpio": {"pins": []},
                        "display": {"port": "sim:lcd", "baudrate": 9600,
                                    "cols": cols, "rows": rows}})
    uart = sim.uart("sim:lcd", 9600)
    display = CharDisplay(uart, cols, rows)
    display.start()
    return sim, uart, display


def sent(uart, action):
    before = uart.bytes_written
    action()
    return uart.bytes_written - before


def test_start_resets_the_module():
    sim, uart, display = rig()
    assert uart.bytes_written == 8  # display on, entry mode, clear, backlight
    lcd = sim.display().lcd
    assert lcd.lcd.display_on and not lcd.lcd.cursor_on
    assert lcd.backlight == 29
    assert sim.screen_text() == [" " * 16, " " * 16]


def test_lines_reach_the_screen():
    sim, uart, display = rig()
    display.set_lines(["Hello", "World"])
    # "Hello" from the home position, one cursor move, "World"
    assert sent(uart, display.flush) == 5 + 2 + 5
    assert sim.screen_text() == ["Hello" + " " * 11, "World" + " " * 11]


def test_unchanged_picture_sends_nothing():
    sim, uart, display = rig()
    display.set_lines(["Hello", "World"])
    display.flush()
    display.set_lines(["Hello", "World"])
    assert not display.dirty()
    assert sent(uart, display.flush) == 0


def test_one_changed_cell_costs_a_cursor_move_and_one_byte():
    sim, uart, display = rig()
    display.set_lines(["12:00 idle", "ext 201"])
    display.flush()
    display.write(0, 4, "1")
    assert sent(uart, display.flush) == 3
    assert sim.screen_text()[0] == "12:01 idle      "
    assert sim.screen_text()[1] == "ext 201         "


def test_neighbouring_changes_are_one_run():
    sim, uart, display = rig()
    display.set_line(1, "abcdefgh")
    display.flush()
    display.write(1, 2, "XY")
    assert sent(uart, display.flush) == 2 + 2


def test_short_gap_is_rewritten_long_gap_is_jumped():
    sim, uart, display = rig()
    display.set_line(0, "0123456789")
    display.flush()
    display.write(0, 1, "A")
    display.write(0, 3, "B")  # gap of one: rewrite "2" (1 byte) rather than jump (2)
    assert sent(uart, display.flush) == 2 + 3
    display.write(0, 1, "C")
    display.write(0, 8, "D")  # gap of six: two runs
    assert sent(uart, display.flush) == 2 + 1 + 2 + 1
    assert sim.screen_text()[0] == "0C2B4567D9      "


def test_cursor_position_is_remembered_between_flushes():
    sim, uart, display = rig()
    display.write(0, 0, "abc")
    display.flush()
    display.write(0, 3, "d")  # the module's cursor already sits at column 3
    assert sent(uart, display.flush) == 1
    assert sim.screen_text()[0].startswith("abcd")


def test_clear_is_used_when_it_is_shorter():
    sim, uart, display = rig(20, 4)
    display.set_lines(["x" * 20] * 4)
    display.flush()
    display.set_lines(["Hi"])
    # clear (2 bytes) + "Hi" from home (2) beats blanking 78 cells
    assert sent(uart, display.flush) == 4
    assert sim.screen_text() == ["Hi" + " " * 18] + [" " * 20] * 3


def test_four_rows_use_hd44780_addresses():
    sim, uart, display = rig(20, 4)
    display.set_lines(["row zero", "row one", "row two", "row three"])
    display.flush()
    assert [line.rstrip() for line in sim.screen_text()] == [
        "row zero", "row one", "row two", "row three"]
    # DDRAM: row 2 continues line 0 at 0x14, row 3 continues line 1 at 0x54
    lcd = sim.display().lcd.lcd
    assert bytes(lcd.ddram[0x14:0x1B]) == b"row two"
    assert bytes(lcd.ddram[0x54:0x5D]) == b"row three"


def test_text_is_cut_at_the_edge():
    sim, uart, display = rig()
    display.write(0, 12, "overflow")
    display.set_line(1, "a much longer line than sixteen")
    display.flush()
    assert sim.screen_text() == [" " * 12 + "over", "a much longer li"]


def test_rom_mapping_of_awkward_characters():
    sim, uart, display = rig()
    display.set_line(0, "a\\b|c\u00a5\u2192\u00e9")
    display.flush()
    # the backslash is a yen sign in ROM A00 and | is the backpack's escape byte
    assert sim.screen_text()[0].rstrip() == "a?b?c\u00a5\u2192?"
    assert list(encode("|\u00fe")) == [0x3F, 0x3F]


def test_backlight_is_sent_only_when_it_changes():
    sim, uart, display = rig()
    assert sent(uart, lambda: display.set_backlight(0.0)) == 2
    assert sim.display().lcd.backlight == 0
    assert sent(uart, lambda: display.set_backlight(False)) == 0
    display.set_backlight(0.5)
    assert sim.display().lcd.backlight == 15


def test_custom_character():
    sim, uart, display = rig()
    bell = [0x04, 0x0E, 0x0E, 0x0E, 0x1F, 0x00, 0x04, 0x00]
    display.define_char(1, bell)
    display.write(0, 0, "\x01 ring")
    display.flush()
    lcd = sim.display().lcd
    assert list(lcd.lcd.cgram[8:16]) == bell
    assert sim.screen_text()[0].startswith("\x01 ring")


def test_address_counter_arithmetic():
    assert advance(0x00, 16) == 0x10
    assert advance(0x27, 1) == 0x40
    assert advance(0x67, 1) == 0x00
    assert advance(0x14, 20) == 0x40  # 0x14 + 20 runs off line 0 onto line 1


def test_geometry_is_checked():
    sim, uart, display = rig()
    for cols, rows in ((16, 3), (0, 2), (24, 4)):
        try:
            CharDisplay(uart, cols, rows)
        except ValueError:
            continue
        raise AssertionError("%dx%d was accepted" % (cols, rows))
