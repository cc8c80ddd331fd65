"""The screen model: fitting rows to a display, formatting, the wall clock."""

from firmware.app import screen as scr
from firmware.app.screen import Row, ScreenModel, layout


def test_rows_are_padded_and_cut_to_the_width():
    lines = layout([Row(9, "Alice", "09:30"), Row(8, "Registered")], 16, 2)
    assert lines == ["Alice      09:30", "Registered      "]
    lines = layout([Row(9, "A very long account name", "09:30")], 16, 1)
    assert lines == ["A very lon 09:30"]
    assert all(len(line) == 16 for line in lines)


def test_right_part_wins_when_space_is_short():
    assert layout([Row(9, "party", "123:45")], 6, 1) == ["123:45"]
    assert layout([Row(9, "party", "1234567")], 5, 1) == ["12345"]
    assert layout([Row(9, "", "12:00")], 8, 1) == ["   12:00"]


def test_keep_end_shows_the_last_keys_dialled():
    row = Row(8, "0049301234567890", keep_end=True)
    assert layout([row], 10, 1) == ["1234567890"]


def test_small_displays_keep_the_most_important_rows_in_order():
    rows = [Row(9, "top"), Row(1, "date"), Row(8, "second"), Row(5, "detail")]
    assert layout(rows, 8, 2) == ["top     ", "second  "]
    assert layout(rows, 8, 3) == ["top     ", "second  ", "detail  "]
    assert layout(rows, 8, 4) == ["top     ", "date    ", "second  ", "detail  "]
    assert layout(rows, 8, 5)[4] == "        "
    # equal priority: the upper row is kept
    assert layout([Row(5, "a"), Row(5, "b")], 2, 1) == ["a "]


def test_screen_model_reports_changes_only():
    model = ScreenModel(10, 2)
    assert model.lines == ["          "] * 2
    assert model.show([Row(9, "hello")])
    assert not model.show([Row(9, "hello")])
    assert model.text() == "hello\n"
    assert model.show([Row(9, "hello"), Row(8, "world")])
    assert model.text() == "hello\nworld"
    try:
        ScreenModel(0, 2)
    except ValueError:
        pass
    else:
        raise AssertionError("a zero-width display must be refused")


def test_durations_clock_and_date():
    assert scr.duration_text(0) == "00:00"
    assert scr.duration_text(65.9) == "01:05"
    assert scr.duration_text(3599) == "59:59"
    assert scr.duration_text(3600 + 61) == "61:01"
    assert scr.duration_text(-3) == "00:00"
    assert scr.clock_text((2025, 11, 26, 9, 5, 7)) == "09:05"
    assert scr.clock_text(None) == ""
    assert scr.date_text((2025, 1, 2, 0, 0, 0)) == "2025-01-02"


def test_party_names_from_uris():
    assert scr.party_text("Bob", "sip:bob@example.com") == "Bob"
    assert scr.party_text("", "sip:bob@example.com;transport=tls") == "bob"
    assert scr.party_text("", "<sips:2001@pbx.example>") == "2001"
    assert scr.party_text("", "sip:example.com") == "example.com"
    assert scr.party_text("", "sip:*72%23@pbx") == "*72#"
    assert scr.uri_user_host("sip:bob@example.com?subject=x") == "bob@example.com"
    assert scr.uri_user_host("") == ""


def test_days_round_trip_across_leap_years_and_centuries():
    assert scr.days_from_civil(1970, 1, 1) == 0
    assert scr.days_from_civil(2000, 3, 1) == 11017
    assert scr.civil_from_days(11017) == (2000, 3, 1)
    assert scr.civil_from_days(-1) == (1969, 12, 31)
    for days in range(-800, 80000, 97):
        y, m, d = scr.civil_from_days(days)
        assert scr.days_from_civil(y, m, d) == days


def test_wall_add_carries_through_minutes_days_and_years():
    assert scr.wall_add((2025, 11, 26, 9, 30, 0), 70) == (2025, 11, 26, 9, 31, 10)
    assert scr.wall_add((2024, 2, 28, 23, 59, 59), 1) == (2024, 2, 29, 0, 0, 0)
    assert scr.wall_add((2023, 2, 28, 23, 59, 59), 1) == (2023, 3, 1, 0, 0, 0)
    assert scr.wall_add((2025, 12, 31, 23, 59, 30), 45) == (2026, 1, 1, 0, 0, 15)
    assert scr.wall_add((2026, 1, 1, 0, 0, 15), -45) == (2025, 12, 31, 23, 59, 30)
    # extra fields (weekday, yearday) of a localtime() tuple are ignored
    assert scr.wall_add((2025, 1, 1, 0, 0, 0, 2, 1), 0) == (2025, 1, 1, 0, 0, 0)


def test_idle_view_puts_problems_before_the_plain_state():
    wall = (2025, 11, 26, 9, 30, 0)
    ok = layout(scr.idle_view("alice", "Registered", wall), 16, 2)
    assert ok == ["alice      09:30", "Registered      "]
    busy = scr.idle_view("alice", "Registered", wall, dnd=True, missed=2)
    assert layout(busy, 16, 2)[1].rstrip() == "Do not disturb"
    assert [line.rstrip() for line in layout(busy, 20, 4)] == [
        "alice          09:30", "Registered", "Do not disturb", "2 missed calls"]
    bad = scr.idle_view("alice", "No service 403", wall, dnd=True, problem=True)
    assert layout(bad, 16, 2)[1].rstrip() == "No service 403"
    assert layout(scr.idle_view("a", "", None, missed=1), 16, 2)[1].rstrip() == "1 missed call"


def test_talking_view_gives_the_second_line_to_a_waiting_caller():
    rows = scr.talking_view("Bob", 65, "", waiting="Carol", held="", detail="bob@x")
    assert layout(rows, 16, 2) == ["Bob        01:05", "Waiting: Carol  "]
    rows = scr.talking_view("Bob", 5, "On hold", detail="bob@x")
    assert layout(rows, 16, 2)[1].rstrip() == "On hold"
    rows = scr.talking_view("Bob", None, "Connecting")
    assert layout(rows, 16, 2)[0].rstrip() == "Bob"
