import pytest

from tools.scenario import (EventLog, ScriptError, handset_phones, parse_script, split_keys,
                            strip_comment)


def test_parse_script_skips_comments_and_blank_lines():
    commands = parse_script("# a call\n\ncall sip:friend@remote.test  # dial\nwait CONNECTED 5\n"
                            "expect REGISTERED\nsleep 0.5\nhangup\nquit\n")
    assert [c.name for c in commands] == ["call", "wait", "expect", "sleep", "hangup", "quit"]
    assert commands[0].args == ["sip:friend@remote.test"] and commands[0].line == 3
    assert commands[1].args == ["CONNECTED", "5"]


def test_every_bad_line_is_reported():
    with pytest.raises(ScriptError) as info:
        parse_script("dance\ncall\nsleep soon\nwait X later\nanswer now\n")
    problems = info.value.problems
    assert len(problems) == 5
    assert problems[0].startswith("line 1: unknown command 'dance'")
    assert problems[1] == "line 2: call takes 1 argument(s)"
    assert problems[2] == "line 3: sleep needs a number of seconds"
    assert problems[3] == "line 4: wait timeout must be a number of seconds"
    assert problems[4] == "line 5: answer takes 0 argument(s)"


def test_wait_consumes_each_occurrence_once_and_earlier_ones_count():
    log = EventLog()
    log.add(0.1, "REGISTERED")
    log.add(0.2, "CONNECTED", "call=1")
    log.add(0.3, "DROPCALL", "call=1")
    log.add(0.4, "CONNECTED", "call=2")
    assert log.take("CONNECTED")[2] == "call=1"
    assert log.take("REGISTERED")[0] == 0.1          # happened before: still counts
    assert log.take("CONNECTED")[2] == "call=2"
    assert log.take("CONNECTED") is None
    assert log.take("DROPCALL", lambda details: "call=2" in details) is None
    assert log.take("DROPCALL")[2] == "call=1"


# -- the handset commands, phone prefixes and the comment rule ------------------------------


def test_hash_is_a_key_unless_it_starts_a_comment():
    assert strip_comment("press 2002#") == "press 2002#"
    assert strip_comment("press #") == "press #"
    assert strip_comment("press 2002#   # send it") == "press 2002#"
    assert strip_comment("  # a whole-line comment") == ""
    assert strip_comment("wait REGISTERED 5 #") == "wait REGISTERED 5 #"


def test_press_takes_digit_strings_and_named_keys():
    assert split_keys(["2002#"]) == ["2", "0", "0", "2", "#"]
    assert split_keys(["redial", "*9", "hold"]) == ["redial", "*", "9", "hold"]
    with pytest.raises(ValueError):
        split_keys(["20a2"])
    commands = parse_script("offhook\npress 2002#\nonhook\n")
    assert commands[1].keys == ["2", "0", "0", "2", "#"]
    assert [c.handset for c in commands] == [True, True, True]


def test_state_checks_of_expect_and_wait():
    commands = parse_script('expect display Incoming call\nexpect led ringing blink\n'
                            'expect tone ringback\nexpect ringing\nexpect ringer off\n'
                            'wait display "Call ended" 3\nwait display Busy now\n'
                            'wait tone busy 2\nwait led line on\nwait ringing 4\n'
                            'wait CONNECTED 5\nexpect OFFERED\n')
    checks = [(c.check.kind, c.check.what, c.check.timeout) for c in commands]
    assert checks == [
        ("display", "Incoming call", 0.0), ("led", ("ringing", "blink"), 0.0),
        ("tone", "ringback", 0.0), ("ringer", "on", 0.0), ("ringer", "off", 0.0),
        ("display", "Call ended", 3.0), ("display", "Busy now", 10.0),
        ("tone", "busy", 2.0), ("led", ("line", "on"), 10.0), ("ringer", "on", 4.0),
        ("event", "CONNECTED", 5.0), ("event", "OFFERED", 0.0)]
    assert [c.handset for c in commands][-2:] == [False, False]


def test_bad_state_checks_are_reported_by_line():
    with pytest.raises(ScriptError) as info:
        parse_script('expect led ringing twinkle\nexpect tone siren\nexpect display\n'
                     'wait display "open 3\nexpect ringer loud\nexpect led line\n'
                     'expect CONNECTED 5\npress 12z\n')
    problems = info.value.problems
    assert [p.split(":")[0] for p in problems] == ["line %d" % n for n in range(1, 9)]
    assert "an LED is on, off, blink" in problems[0]
    assert "tones are dial" in problems[1]
    assert "no closing quote" in problems[3]
    assert problems[6] == "line 7: expect takes 1 argument(s)"
    assert "'z' is not a key" in problems[7]


def test_phone_prefixes():
    commands = parse_script("alice: offhook\nbob: wait OFFERED 5\nsleep 1\nalice: press 2#\n"
                            "quit\n", phones=["alice", "bob"])
    assert [(c.phone, c.name) for c in commands] == [
        ("alice", "offhook"), ("bob", "wait"), (None, "sleep"), ("alice", "press"),
        (None, "quit")]
    assert handset_phones(commands) == ["alice"]
    # one phone: the prefix may be left out
    single = parse_script("offhook\nalice: onhook\n", phones=["alice"])
    assert [c.phone for c in single] == ["alice", "alice"]
    with pytest.raises(ScriptError) as info:
        parse_script("carol: offhook\noffhook\nalice: sleep 1\nbob:\n", phones=["alice", "bob"])
    problems = info.value.problems
    assert problems[0].startswith("line 1: no phone named 'carol' (phones: alice, bob)")
    assert problems[1].startswith("line 2: say which phone")
    assert problems[2] == "line 3: sleep acts on the whole run: no phone prefix"
    assert problems[3] == "line 4: a command must follow 'bob:'"
    with pytest.raises(ScriptError):
        parse_script("alice: offhook\n")     # a one-phone run has no named phones


def test_a_phone_is_driven_by_its_handset_or_by_call_control_not_both():
    parse_script("alice: call sip:x@y\nbob: offhook\n", phones=["alice", "bob"])
    with pytest.raises(ScriptError) as info:
        parse_script("alice: answer\nbob: offhook\nalice: expect ringing\n",
                     phones=["alice", "bob"])
    assert info.value.problems == [
        "line 1: answer drives call control directly, but line 3 uses alice's handset, "
        "which acts on calls itself: use offhook, onhook and press"]
