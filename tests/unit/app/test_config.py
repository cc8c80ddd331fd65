from firmware.app.config import ConfigError, is_hostname, is_ip_address, parse_config


def good_document():
    return {
        "account": {"user": "alice", "password": "s3cret", "domain": "example.test"},
        "outbound_proxy": {"address": "127.0.0.1", "hostname": "proxy.test", "port": 5061},
        "tls": {"ca_file": "certs/ca.pem"},
        "listen": {"tls_port": 0},
    }


def problems_of(document):
    try:
        parse_config(document)
    except ConfigError as error:
        return error.problems
    raise AssertionError("configuration was accepted")


def test_good_document_gets_defaults():
    config = parse_config(good_document())
    assert config.account.user == "alice"
    assert config.outbound_proxy.transport == "tls"
    assert config.outbound_proxy.persistence == "user"
    assert config.keepalive.interval_s == 90
    assert config.persistent_proxy_connection


def test_only_hostname_is_not_persistent():
    document = good_document()
    document["outbound_proxy"]["address"] = None
    assert not parse_config(document).persistent_proxy_connection


def test_every_wrong_field_is_reported_with_its_path():
    document = good_document()
    document["outbound_proxy"]["port"] = 70000
    document["outbound_proxy"]["transport"] = "sctp"
    document["account"]["domain"] = "bad domain"
    document["keepalive"] = {"interval_s": "often"}
    document["colour"] = "blue"
    problems = problems_of(document)
    assert "outbound_proxy.port: must be an integer 1..65535" in problems
    assert any(p.startswith("outbound_proxy.transport: must be one of") for p in problems)
    assert any(p.startswith("account.domain:") for p in problems)
    assert any(p.startswith("keepalive.interval_s: must be a number") for p in problems)
    assert any(p.startswith("colour: unknown section") for p in problems)
    assert len(problems) == 5


def test_missing_required_fields_and_unknown_field():
    problems = problems_of({"account": {"passwd": "x"}, "tls": {"ca_file": "ca.pem"}})
    assert "account.user: required" in problems
    assert "account.domain: required" in problems
    assert "account.passwd: unknown field" in problems
    assert "outbound_proxy: needs an address, a hostname or both" in problems


def test_tls_without_ca_is_refused():
    document = good_document()
    del document["tls"]
    assert any(p.startswith("tls.ca_file: required") for p in problems_of(document))


def test_tls_server_port_needs_certificate():
    document = good_document()
    document["listen"] = {"tls_port": 5071}
    problems = problems_of(document)
    assert any(p.startswith("listen.tls_cert_file: required") for p in problems)
    assert any(p.startswith("listen.tls_key_file: required") for p in problems)


def test_password_not_in_repr():
    config = parse_config(good_document())
    assert "s3cret" not in repr(config.account)


def test_address_helpers():
    assert is_ip_address("127.0.0.1")
    assert is_ip_address("::1") and is_ip_address("[2001:db8::1]")
    assert not is_ip_address("256.1.1.1") and not is_ip_address("proxy.test")
    assert is_hostname("proxy.test") and not is_hostname("-bad.test")
    assert not is_hostname("10.0.0.1")


def test_media_and_outbound_fields():
    document = good_document()
    document["media"] = {"codecs": ["PCMA", "G729"], "rtp_port": 0, "symmetric_rtp": "on"}
    document["sip"] = {"use_outbound": "yes"}
    problems = problems_of(document)
    assert 'media.codecs: must be a non-empty list of "PCMU", "PCMA"' in problems
    assert "media.rtp_port: must be an integer 1..65535" in problems
    assert "media.symmetric_rtp: must be true or false" in problems
    assert "sip.use_outbound: must be true or false" in problems
    config = parse_config(good_document())
    assert config.media.codecs == ["PCMU", "PCMA"] and config.sip.use_outbound is True
    assert config.media.symmetric_rtp is False


def test_phone_section_checks_the_dial_plan():
    document = good_document()
    document["phone"] = {"dial_plan": "[2-9", "region": "mars", "dnd": 1}
    problems = problems_of(document)
    assert any(p.startswith("phone.dial_plan: ") for p in problems)
    assert any(p.startswith("phone.region: must be one of") for p in problems)
    assert "phone.dnd: must be true or false" in problems
    document["phone"] = {"dial_plan": "[2-9]xxx|0T", "region": "uk"}
    assert parse_config(document).phone.region == "uk"
