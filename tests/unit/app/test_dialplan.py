"""Digit maps: matching tables, substitutions, syntax errors, destination URIs."""

from firmware.app.dialplan import (COMPLETE, INVALID, PARTIAL, WAIT, DialPlan, DialPlanError,
                                   destination_uri, escape_user)

PLAN = "[2-9]xxx|0[1-9]xxxxxxxx|00x.|*xx|#"


def check_table(plan, table):
    plan = DialPlan(plan)
    for keys, status, number in table:
        got = plan.match(keys)
        assert got == (status, number), "%r on %r: got %r, want %r" % (
            keys, plan.text, got, (status, number))


def test_extension_national_international_and_codes():
    check_table(PLAN, [
        ("", PARTIAL, None),
        ("2", PARTIAL, None),
        ("234", PARTIAL, None),
        ("2345", COMPLETE, "2345"),
        ("23456", INVALID, None),
        ("1", INVALID, None),
        ("0", PARTIAL, None),
        ("00", WAIT, "00"),          # 00x. : zero or more digits after 00
        ("0049301234", WAIT, "0049301234"),
        ("01", PARTIAL, None),
        ("012345678", PARTIAL, None),
        ("0123456789", COMPLETE, "0123456789"),
        ("01234567890", INVALID, None),
        ("*", PARTIAL, None),
        ("*7", PARTIAL, None),
        ("*72", COMPLETE, "*72"),
        ("*7*", INVALID, None),
        ("#", COMPLETE, "#"),
        ("##", INVALID, None),
    ])


def test_a_complete_match_waits_while_a_longer_one_is_possible():
    check_table("*xx|*xxx", [
        ("*12", WAIT, "*12"),
        ("*123", COMPLETE, "*123"),
    ])
    check_table("911|9xxxxxxx", [
        ("911", WAIT, "911"),
        ("9115", PARTIAL, None),
        ("91155555", COMPLETE, "91155555"),
    ])


def test_timer_mark_makes_a_match_wait():
    check_table("xxxT|5555", [
        ("12", PARTIAL, None),
        ("123", WAIT, "123"),
        ("1234", INVALID, None),
        ("5555", COMPLETE, "5555"),
    ])
    check_table("1xxx T", [("1000", WAIT, "1000")])


def test_classes_ranges_and_keys_in_classes():
    check_table("[13-5*#]x", [
        ("1", PARTIAL, None),
        ("2", INVALID, None),
        ("3", PARTIAL, None),
        ("45", COMPLETE, "45"),
        ("6", INVALID, None),
        ("*0", COMPLETE, "*0"),
        ("#9", COMPLETE, "#9"),
        ("x", INVALID, None),
    ])
    check_table("[x*]", [("7", COMPLETE, "7"), ("*", COMPLETE, "*"), ("#", INVALID, None)])


def test_repeat_of_a_class_and_of_a_key():
    check_table("1[2-3].4", [
        ("14", COMPLETE, "14"),
        ("1224", COMPLETE, "1224"),
        ("123324", COMPLETE, "123324"),
        ("12", PARTIAL, None),
        ("1254", INVALID, None),
    ])
    check_table("*.", [("", WAIT, ""), ("***", WAIT, "***"), ("*1", INVALID, None)])


def test_substitutions_strip_and_insert():
    check_table("<9:>[2-9]xxxxxx|<:00>1xxT|<0:+49>[1-9]x.", [
        ("9", PARTIAL, None),
        ("95551234", COMPLETE, "5551234"),
        ("123", WAIT, "00123"),
        ("030123", WAIT, "+4930123"),
    ])
    check_table("<*7:dnd>1", [("*71", COMPLETE, "dnd1"), ("*7", PARTIAL, None)])


def test_parentheses_and_spaces_are_allowed():
    check_table(" ( 2xx | 3xx ) ", [("211", COMPLETE, "211"), ("311", COMPLETE, "311"),
                                     ("411", INVALID, None)])


def test_empty_plan_takes_anything_after_the_timer():
    for text in ("", None, "   ", "()"):
        plan = DialPlan(text)
        assert plan.match("") == (PARTIAL, None)
        assert plan.match("1") == (WAIT, "1")
        assert plan.match("*#123") == (WAIT, "*#123")
        assert plan.takes("999")


def test_first_matching_alternative_gives_the_number():
    check_table("<1:one>xx|1xx", [("123", COMPLETE, "one23")])
    check_table("1xx|<1:one>xx", [("123", COMPLETE, "123")])


def test_takes_says_whether_a_key_string_can_still_lead_somewhere():
    plan = DialPlan(PLAN)
    assert plan.takes("2")
    assert plan.takes("*1")
    assert not plan.takes("1")
    assert not plan.takes("*12#")


def test_syntax_errors_name_the_alternative():
    bad = ["[2-9", "x|", "|x", ".", "x..", "[]", "[9-2]", "[a]", "xTx", "x<9", "<9>",
           "<9.:>", "a", "x(", "<9:[>"]
    for text in bad:
        try:
            DialPlan(text)
        except DialPlanError as error:
            assert str(error).startswith("alternative "), (text, str(error))
            assert isinstance(error, ValueError)
        else:
            raise AssertionError("%r should not parse" % text)


def test_long_repeats_do_not_blow_up():
    plan = DialPlan("x.x.x.x.x.1")
    keys = "2" * 40
    assert plan.match(keys) == (PARTIAL, None)
    assert plan.match(keys + "1") == (WAIT, keys + "1")


def test_destination_uri_from_numbers_and_full_uris():
    assert destination_uri("2345", "example.com") == "sip:2345@example.com"
    assert destination_uri("*72", "example.com") == "sip:*72@example.com"
    assert destination_uri("*72#", "example.com") == "sip:*72%23@example.com"
    assert destination_uri("bob@other.org", "example.com") == "sip:bob@other.org"
    assert destination_uri("sip:bob@other.org;transport=tls", "x") == \
        "sip:bob@other.org;transport=tls"
    assert destination_uri("SIPS:carol@secure.example", "x") == "SIPS:carol@secure.example"
    assert destination_uri("tel:+4930123", "x") == "tel:+4930123"
    assert escape_user("1%#") == "1%25%23"
