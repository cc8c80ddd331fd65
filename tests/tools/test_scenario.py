import pytest

from tools.scenario import EventLog, ScriptError, parse_script


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
