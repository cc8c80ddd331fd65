import json

from firmware.runtime import slots
from firmware.runtime.phone import PhoneEvent
from firmware.runtime.startup import StartupError, confirm_trial_when_registered, load_config, \
    prepare


def write_config(tmp_path, document):
    path = tmp_path / "phone.json"
    path.write_text(json.dumps(document))
    return str(path)


def test_registered_confirms_a_trial_boot_once(tmp_path, monkeypatch):
    state = slots.new_state("sim")
    state.update({"active": "b", "previous": "a", "trial": True, "boot_count": 1})
    (tmp_path / slots.PREFIX).mkdir(parents=True)
    slots.write_state(str(tmp_path), state)
    monkeypatch.setenv("DESKPHONE_TRIAL", "1")
    monkeypatch.setenv("DESKPHONE_ROOT", str(tmp_path))
    seen = []
    handler = confirm_trial_when_registered(seen.append)
    handler(PhoneEvent(0.0, "REGISTERING"))
    assert slots.is_trial(str(tmp_path))
    handler(PhoneEvent(0.1, "REGISTERED", "status=200"))
    assert not slots.is_trial(str(tmp_path))
    assert [e.name for e in seen] == ["REGISTERING", "REGISTERED"]


def test_unreadable_files_and_bad_fields_are_all_reported(tmp_path):
    path = write_config(tmp_path, {
        "account": {"user": "alice", "domain": "example.test"},
        "outbound_proxy": {"address": "127.0.0.1", "hostname": "proxy.test"},
        "tls": {"ca_file": "missing-ca.pem", "cert_file": "c.pem", "key_file": "k.pem"},
        "listen": {"tls_port": 0},
    })
    try:
        load_config(path)
    except StartupError as error:
        problems = error.problems
    else:
        raise AssertionError("accepted")
    assert problems == [
        "%s: tls.ca_file: cannot read file missing-ca.pem" % path,
        "%s: tls.cert_file: cannot read file c.pem" % path,
        "%s: tls.key_file: cannot read file k.pem" % path,
    ]


def test_board_and_config_problems_come_together(tmp_path):
    board = tmp_path / "board.json"
    board.write_text(json.dumps({"name": "x", "backend": "abacus"}))
    config = write_config(tmp_path, {"account": {"user": "alice"}})
    try:
        prepare(str(board), config)
    except StartupError as error:
        problems = error.problems
    else:
        raise AssertionError("accepted")
    assert any(p.startswith(str(board)) and "backend" in p for p in problems)
    assert any(p == "%s: account.domain: required" % config for p in problems)


def test_instance_id_is_stable_per_device_and_account():
    from firmware.runtime.phone import new_instance_id

    first = new_instance_id("0123456789abcdef", "sip:alice@example.test")
    assert first == new_instance_id("0123456789abcdef", "sip:alice@example.test")
    assert first != new_instance_id("0123456789abcdef", "sip:bob@example.test")
    assert first.startswith("urn:uuid:") and first[9 + 14] == "5"
    assert new_instance_id() != new_instance_id()
