"""URI grammar: sip, sips, tel and other schemes (RFC 3261 19.1, 25.1; RFC 3966)."""

from firmware.core.errors import SipSyntaxError
from firmware.core.uri import Uri, parse_uri, split_hostport, unescape_safe


def _rejects(text):
    try:
        parse_uri(text)
    except SipSyntaxError:
        return True
    return False


def test_plain_sip_uri():
    u = parse_uri("sip:alice@example.com")
    assert u.scheme == "sip"
    assert u.user == "alice"
    assert u.password is None
    assert u.host == "example.com"
    assert u.port is None
    assert u.params == []
    assert u.headers == []
    assert u.serialize() == "sip:alice@example.com"


def test_every_part():
    u = parse_uri("sips:bob:secret@Host.Example.COM:5061;transport=TLS;lr;maddr=10.0.0.1"
                  "?Subject=hi&Priority=urgent")
    assert u.scheme == "sips"
    assert (u.user, u.password) == ("bob", "secret")
    assert u.host == "Host.Example.COM"
    assert u.port == 5061
    assert u.params == [["transport", "TLS"], ["lr", None], ["maddr", "10.0.0.1"]]
    assert u.headers == [["Subject", "hi"], ["Priority", "urgent"]]
    assert u.transport == "tls"
    assert str(u) == ("sips:bob:secret@Host.Example.COM:5061;transport=TLS;lr;maddr=10.0.0.1"
                      "?Subject=hi&Priority=urgent")


def test_scheme_is_case_insensitive():
    assert parse_uri("SIP:a@b").scheme == "sip"
    assert parse_uri("Sips:b").scheme == "sips"


def test_host_only_and_ipv4():
    u = parse_uri("sip:192.0.2.4:5060")
    assert u.user is None
    assert (u.host, u.port) == ("192.0.2.4", 5060)


def test_ipv6_reference_keeps_brackets():
    u = parse_uri("sip:alice@[2001:db8::10]:5070;transport=udp")
    assert u.host == "[2001:db8::10]"
    assert u.port == 5070
    u = parse_uri("sip:[2001:db8::10:5070]")
    assert u.host == "[2001:db8::10:5070]"  # RFC 5118 4.3: no port here
    assert u.port is None
    assert parse_uri("sip:[2001:db8:::192.0.2.1]").host == "[2001:db8:::192.0.2.1]"


def test_unbracketed_ipv6_is_rejected():
    assert _rejects("sip:2001:db8::10")
    assert _rejects("sip:user@2001:db8::10")


def test_malformed_uris():
    for bad in ("", "alice@example.com", ":x", "sip:", "sip:@host", "sip:a@", "sip:a b@host",
                "sip:a@host:", "sip:a@host:99999", "sip:a@host:12x", "sip:a@host;;lr",
                "sip:a@host;transport=", "sip:a@[::1", "sip:a@[::1]x", "sip:a@ho st",
                "<sip:a@b>", "sip:a@b>", "sip:a@b?x", "sip:a@h\x00", "sip:%4@h", "sip:%zz@h",
                "1sip:a", "tel:", "x y:z"):
        assert _rejects(bad), bad


def test_user_escapes_only_unreserved_are_decoded():
    assert parse_uri("sip:%75se%72@example.com").user == "user"
    # '@' and '%' stay escaped, and nothing is unescaped twice (RFC 4475 3.1.1.3)
    assert parse_uri("sip:sips%3Auser%40example.com@example.net").user == "sips%3Auser%40example.com"
    assert parse_uri("sip:v%61lue%25%34%31@h").user == "value%2541"
    assert parse_uri("sip:%00%00@h").user == "%00%00"
    assert unescape_safe("a%41%2f") == "aA%2f"


def test_user_with_semicolons_and_question_mark():
    u = parse_uri("sip:user;par=u%40example.net@example.com")
    assert u.user == "user;par=u%40example.net"
    assert u.host == "example.com"
    assert u.params == []
    u = parse_uri("sip:a?b@h;x")
    assert (u.user, u.host, u.params) == ("a?b", "h", [["x", None]])


def test_tel_uri():
    u = parse_uri("tel:+1-201-555-0123;phone-context=example.com")
    assert u.scheme == "tel"
    assert u.user == "+1-201-555-0123"
    assert u.host is None
    assert u.param("phone-context") == "example.com"
    assert u.serialize() == "tel:+1-201-555-0123;phone-context=example.com"


def test_other_schemes_are_kept_opaque():
    u = parse_uri("soap.beep://192.0.2.103:3002")
    assert u.scheme == "soap.beep"
    assert u.opaque == "//192.0.2.103:3002"
    assert u.host is None
    assert u.serialize() == "soap.beep://192.0.2.103:3002"
    assert parse_uri("isbn:2983792873").opaque == "2983792873"


def test_param_lookup_is_case_insensitive_and_flags_read_as_empty():
    u = parse_uri("sip:h;LR;Transport=TCP")
    assert u.param("lr") == ""
    assert u.param("lr") is not None
    assert u.has_param("Lr")
    assert u.param("transport") == "TCP"
    assert u.transport == "tcp"
    assert u.param("maddr") is None
    assert u.param("maddr", "x") == "x"
    assert not u.has_param("maddr")


def test_set_and_remove_param_keep_order():
    u = parse_uri("sip:a@h;x=1;y=2")
    u.set_param("X", "3")
    u.set_param("z")
    u.set_param("port", 5)
    assert u.params == [["X", "3"], ["y", "2"], ["z", None], ["port", "5"]]
    u.remove_param("y")
    assert u.serialize() == "sip:a@h;X=3;z;port=5"


def test_build_and_round_trip():
    u = Uri("sip", "bob", "[2001:db8::1]", 5060, [["transport", "tcp"]])
    text = u.serialize()
    assert text == "sip:bob@[2001:db8::1]:5060;transport=tcp"
    assert parse_uri(text) == u


def test_copy_is_independent():
    u = parse_uri("sip:a@h;x=1?h=v")
    c = u.copy()
    c.set_param("x", "2")
    c.headers[0][1] = "w"
    assert u.param("x") == "1"
    assert u.headers == [["h", "v"]]
    assert c != u


def test_split_hostport():
    assert split_hostport("h:5060") == ("h", 5060)
    assert split_hostport("[::1]") == ("[::1]", None)
    for bad in ("h:", ":5", "[::1]:", "h:65536", "h:-1"):
        try:
            split_hostport(bad)
        except SipSyntaxError:
            continue
        raise AssertionError(bad)


def test_hash_follows_equality():
    assert hash(parse_uri("sip:a@h")) == hash(Uri("sip", "a", "h"))
