"""Field-level grammar: names, lists, parameters, name-addr, Via, CSeq."""

from firmware.core.errors import SipSyntaxError
from firmware.core.fieldcheck import check_contacts, check_name_addr, check_uri, check_via_list
from firmware.core.headers import (
    COMPACT_FORMS,
    NameAddr,
    Via,
    canonical_name,
    header_key,
    parse_contacts,
    parse_cseq,
    parse_name_addr,
    parse_name_addr_list,
    parse_params,
    parse_uint,
    parse_via,
    parse_via_list,
    quote,
    split_list,
    unquote,
)
from firmware.core.uri import Uri


def _raises(fn, *args):
    try:
        fn(*args)
    except SipSyntaxError:
        return True
    return False


def test_compact_forms_and_canonical_names():
    assert COMPACT_FORMS["v"] == "Via"
    assert canonical_name("v") == "Via"
    assert canonical_name("I") == "Call-ID"
    assert canonical_name("call-id") == "Call-ID"
    assert canonical_name("CSEQ") == "CSeq"
    assert canonical_name("www-authenticate") == "WWW-Authenticate"
    assert canonical_name("max-FORWARDS") == "Max-Forwards"
    assert canonical_name("x-my-header") == "X-My-Header"
    assert header_key("m") == header_key("CONTACT") == "contact"
    assert header_key("l") == "content-length"


def test_split_list_respects_quotes_and_angles():
    assert split_list("INVITE, ACK ,BYE") == ["INVITE", "ACK", "BYE"]
    assert split_list('"Doe, John" <sip:j@h>, <sip:x@y;a=b,c>') == [
        '"Doe, John" <sip:j@h>', "<sip:x@y;a=b,c>"]
    assert split_list('"a \\" , b" <sip:a@b>') == ['"a \\" , b" <sip:a@b>']
    assert split_list("a,,b") == ["a", "", "b"]


def test_quote_and_unquote():
    assert quote('say "hi" \\o/') == '"say \\"hi\\" \\\\o/"'
    assert unquote(quote('say "hi" \\o/')) == 'say "hi" \\o/'
    assert unquote("token") == "token"
    assert unquote('"a\\b"') == "ab"


def test_parse_params_with_lws_and_quotes():
    assert parse_params(";a=1;flag; b = two ;c=\"x;y\"") == [
        ["a", "1"], ["flag", None], ["b", "two"], ["c", '"x;y"']]
    assert parse_params("q=0.5") == [["q", "0.5"]]
    for bad in (";;", "a=", ";a;", "a b=1", "a=1 2", 'a="x', 'a="x"y', "a@b"):
        assert _raises(parse_params, bad), bad


def test_name_addr_quoted_display_with_escapes():
    na = parse_name_addr('"J Rosenberg \\\\\\""       <sip:jdrosen@example.com>  ;  tag = 98asjd8')
    assert na.display == 'J Rosenberg \\"'
    assert na.uri.user == "jdrosen"
    assert na.tag == "98asjd8"
    assert na.params == [["tag", "98asjd8"]]


def test_name_addr_token_display_without_space():
    na = parse_name_addr("caller<sip:caller@example.com>;tag=323")
    assert na.display == "caller"
    assert na.uri.host == "example.com"
    assert na.tag == "323"
    na = parse_name_addr("token1~` token2'+_ token3*%!.- <sip:m@example.com>")
    assert na.display == "token1~` token2'+_ token3*%!.-"


def test_addr_spec_params_belong_to_the_header():
    na = parse_name_addr("sip:+19725552222@gw1.example.net;unknownparam;tag=7")
    assert na.display is None
    assert na.uri.params == []
    assert na.params == [["unknownparam", None], ["tag", "7"]]
    na = parse_name_addr("<sip:+19725552222@gw1.example.net;unknownparam>")
    assert na.uri.params == [["unknownparam", None]]
    assert na.params == []


def test_non_sip_addresses():
    assert parse_name_addr("isbn:2983792873").uri.scheme == "isbn"
    assert parse_name_addr("<http://www.example.com>;tag=3").uri.opaque == "//www.example.com"


def test_malformed_name_addrs():
    for bad in ('"Mr. J. User <sip:j.user@example.com>',  # unterminated quote
                "Bell, Alexander <sip:a.g.bell@example.com>",  # display needs quotes
                '"Watson, Thomas" < sip:t.watson@example.org >',  # spaces in addr-spec
                "sip:user@example.com?Route=%3Csip:sip.example.com%3E",  # ? needs <>
                "<sip:a@b", "<sip:a@b> x", "", "  ", '"x" sip:a@b', "<sip:a@b>;;tag=1",
                "<sip:a@b>;tag="):
        assert _raises(parse_name_addr, bad), bad


def test_name_addr_tag_set_and_serialize():
    na = parse_name_addr("<sip:bob@example.com>")
    assert na.tag is None
    na.set_param("tag", "abc")
    assert na.tag == "abc"
    assert na.serialize() == "<sip:bob@example.com>;tag=abc"
    built = NameAddr(Uri("sip", "a", "h"), 'A "B"', [["expires", "60"]])
    assert built.serialize() == '"A \\"B\\"" <sip:a@h>;expires=60'
    assert parse_name_addr(built.serialize()) == built
    assert NameAddr("sip:x@y").uri.host == "y"


def test_name_addr_copy_is_independent():
    na = parse_name_addr('"A" <sip:a@h;lr>;tag=1')
    c = na.copy()
    c.set_param("tag", "2")
    c.uri.set_param("lr", "x")
    assert na.tag == "1"
    assert na.uri.param("lr") == ""


def test_name_addr_list_and_contacts():
    items = parse_name_addr_list('"A, B" <sip:a@h>;q=0.5, sip:b@h;expires=10')
    assert [i.uri.user for i in items] == ["a", "b"]
    assert items[1].param("expires") == "10"
    assert parse_contacts(" * ") == ["*"]
    assert _raises(parse_name_addr_list, "<sip:a@h>,,<sip:b@h>")


def test_via_with_lws_everywhere():
    v = parse_via("SIP  /   2.0 /UDP    192.0.2.2;branch=390skdjuw")
    assert (v.protocol, v.transport, v.host, v.port) == ("SIP/2.0", "UDP", "192.0.2.2", None)
    assert v.branch == "390skdjuw"
    vias = parse_via_list("SIP  / 2.0  / TCP     spindle.example.com   ;  branch  =   z9hG4bK9ikj8  ,"
                          " SIP  /    2.0   / UDP  192.168.255.111   ; branch= z9hG4bK30239")
    assert [(v.transport, v.host, v.branch) for v in vias] == [
        ("TCP", "spindle.example.com", "z9hG4bK9ikj8"), ("UDP", "192.168.255.111", "z9hG4bK30239")]


def test_via_params():
    v = parse_via("SIP/2.0/TLS [2001:db8::9]:5061;branch=z9hG4bKx;rport;alias;received=[2001:db8::9:255]")
    assert v.host == "[2001:db8::9]"
    assert v.port == 5061
    assert v.rport is True
    assert v.alias is True
    assert v.received == "[2001:db8::9:255]"
    assert parse_via("SIP/2.0/UDP h;rport=5062").rport == 5062
    assert parse_via("SIP/2.0/UDP h").rport is None
    assert parse_via("SIP/2.0/UDP h").alias is False
    assert parse_via("SIP/2.0/UDP h : 5070").port == 5070
    assert parse_via("SIP/2.0/udp h;received=2001:db8::9:255").received == "2001:db8::9:255"


def test_via_set_param_and_serialize():
    v = Via("TLS", "phone.example.com", 5061, [["branch", "z9hG4bK1"]])
    v.set_param("rport")
    v.set_param("alias", True)
    assert v.serialize() == "SIP/2.0/TLS phone.example.com:5061;branch=z9hG4bK1;rport;alias"
    v.set_param("rport", 40000)
    assert v.rport == 40000
    assert parse_via(v.serialize()) == v
    assert v.sent_by() == "phone.example.com:5061"


def test_malformed_vias():
    for bad in ("SIP/2.0/UDP", "SIP/2.0 UDP h", "SIP/2.0/UDP h;;", "SIP/2.0/UDP 192.0.2.15;;,;,,",
                "SIP/2.0/UDP 2001:db8::1:5060", "SIP/2.0/UDP h:x", "SIP/2.0/ h", "/2.0/UDP h",
                "SIP/2.0/UDP h junk"):
        assert _raises(parse_via_list, bad), bad


def test_cseq():
    assert parse_cseq("0009\t INVITE") == (9, "INVITE")
    assert parse_cseq("4294967295 ACK") == (4294967295, "ACK")
    for bad in ("36893488147419103232 REGISTER", "4294967296 ACK", "1", "x INVITE",
                "1 INVITE x", "-1 BYE", "1 IN@VITE", "\u0663 BYE"):
        assert _raises(parse_cseq, bad), bad


def test_parse_uint():
    assert parse_uint(" 0068 ", 255) == 68
    for bad in ("300", "-1", "", "1 2", "+5", "\u0663"):
        assert _raises(parse_uint, bad, 255), bad


def test_quick_checks_agree_with_full_parsers():
    good = ['"Alice" <sip:alice@example.com>;tag=1', "Bob <sips:bob@[::1]:5061;transport=tls>",
            "sip:a@b;tag=x", "<sip:x@y>;+sip.instance=\"<urn:uuid:1>\"",
            "<sip:u@h:65535>", '"A, B" <sip:a@h>']
    for text in good:
        check_name_addr(text)
        parse_name_addr(text)
    for text in ("<sip:u@h:65536>", "sip:a@b?x=1", "<sip:a@b>;tag=", "Bell, A <sip:a@b>"):
        assert _raises(check_name_addr, text), text
    check_via_list("SIP/2.0/UDP 1.2.3.4:5060;branch=z9hG4bK1;rport, SIP/2.0/TLS [::1];received=[::2]")
    assert _raises(check_via_list, "SIP/2.0/UDP 1.2.3.4:99999")
    check_uri("sip:alice@example.com;transport=tcp")
    assert _raises(check_uri, "sip:alice@")
    assert check_contacts("*") is True
    assert check_contacts("<sip:a@h>;expires=60, <sip:b@h>") is False
    assert _raises(check_contacts, "<sip:a@h>;expires=4294967296")
