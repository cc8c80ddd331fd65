from firmware.core.digest import (
    MAX_REJECTIONS, DigestClient, DigestError, compute_response, parse_challenge,
    parse_challenges)
from firmware.core.errors import SipSyntaxError
from firmware.core.message import Request, Response

# RFC 7616 section 3.9.1: one request answered with MD5 and with SHA-256.
RFC_USER = "Mufasa"
RFC_PASSWORD = "Circle of Life"
RFC_REALM = "http-auth@example.org"
RFC_URI = "/dir/index.html"
RFC_NONCE = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
RFC_CNONCE = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
RFC_OPAQUE = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
RFC_MD5 = "8ca523f5e9506fed4657c9700eebdbec"
RFC_SHA256 = "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"

SECRET = "s3cr3t-Pa55"


def rfc_challenge(algorithm):
    return ('Digest realm="%s", qop="auth, auth-int", algorithm=%s, nonce="%s", opaque="%s"'
            % (RFC_REALM, algorithm, RFC_NONCE, RFC_OPAQUE))


def tokens(*values):
    """A rand_token that hands out ``values`` in turn."""
    queue = list(values)

    def rand_token():
        return queue.pop(0)
    return rand_token


def counter_tokens():
    state = [0]

    def rand_token():
        state[0] += 1
        return "cn%04d" % state[0]
    return rand_token


def request(method="REGISTER", uri="sip:registrar.example.com", body=b""):
    return Request(method, uri, body=body)


def challenge_response(status, *values):
    response = Response(status)
    name = "WWW-Authenticate" if status == 401 else "Proxy-Authenticate"
    for value in values:
        response.headers.add(name, value)
    return response


def digest(realm="sip.example.com", nonce="n1", extra=""):
    return 'Digest realm="%s", nonce="%s"%s' % (realm, nonce, extra)


def fields(value):
    """The parameters of a Digest credentials header as a dict."""
    assert value.startswith("Digest ")
    params = {}
    for name, field in parse_challenge(value).params:
        params[name] = field
    return params


def credentials(req, name="Authorization"):
    return [fields(value) for value in req.headers.get_all(name)]


# -- response computation -----------------------------------------------------

def test_rfc7616_md5_response():
    assert compute_response("MD5", RFC_USER, RFC_PASSWORD, RFC_REALM, RFC_NONCE, "GET",
                            RFC_URI, "auth", 1, RFC_CNONCE) == RFC_MD5


def test_rfc7616_sha256_response():
    assert compute_response("SHA-256", RFC_USER, RFC_PASSWORD, RFC_REALM, RFC_NONCE, "GET",
                            RFC_URI, "auth", "00000001", RFC_CNONCE) == RFC_SHA256


def test_rfc2617_qop_auth_response():
    # RFC 2617 section 3.5.
    assert compute_response("MD5", "Mufasa", "Circle Of Life", "testrealm@host.com",
                            "dcd98b7102dd2f0e8b11d0f600bfb0c093", "GET", "/dir/index.html",
                            "auth", 1, "0a4f113b") == "6629fae49393a05397450978507c4ef1"


def test_rfc2069_response_without_qop():
    # RFC 2069 section 2.4 example, with its erratum applied.
    assert compute_response("MD5", "Mufasa", "CircleOfLife", "testrealm@host.com",
                            "dcd98b7102dd2f0e8b11d0f600bfb0c093", "GET", "/dir/index.html",
                            None, None, None) == "1949323746fe6a43ef61f9606e7febea"


def test_session_algorithms_and_auth_int():
    # Expected values were computed independently with CPython's hashlib.
    assert compute_response("SHA-256-sess", "u", "p", "r", "N", "INVITE", "sip:x@y", "auth-int",
                            2, "C", b"body") == \
        "612cb476ce867e81eb1ca462884ddadd2b43edcd96362d6d78f0aa292d9e6c73"
    assert compute_response("MD5-sess", "u", "p", "r", "N", "INVITE", "sip:x@y", "auth",
                            1, "C") == "c6f02c4f8abce5b3fdf6766937f1dcaa"
    # auth-int covers the body: another body gives another response.
    assert compute_response("MD5", "u", "p", "r", "N", "INVITE", "sip:x@y", "auth-int", 1, "C",
                            b"a") != compute_response("MD5", "u", "p", "r", "N", "INVITE",
                                                      "sip:x@y", "auth-int", 1, "C", b"b")


def test_algorithm_names_are_case_insensitive():
    assert compute_response("md5", RFC_USER, RFC_PASSWORD, RFC_REALM, RFC_NONCE, "GET",
                            RFC_URI, "auth", 1, RFC_CNONCE) == RFC_MD5


def test_sha512_256_is_refused_cleanly():
    try:
        compute_response("SHA-512-256", "u", "p", "r", "n", "GET", "/", "auth", 1, "c")
    except DigestError as exc:
        assert "SHA-512-256" in str(exc) and "not supported" in str(exc)
    else:
        raise AssertionError("SHA-512-256 accepted")


def test_unknown_algorithm_and_qop_are_refused():
    for algorithm, qop in (("SHA-1", "auth"), ("MD5", "auth-conf")):
        try:
            compute_response(algorithm, "u", "p", "r", "n", "GET", "/", qop, 1, "c")
        except DigestError:
            pass
        else:
            raise AssertionError((algorithm, qop))


# -- challenge parsing -----------------------------------------------------------

def test_parse_challenge_fields():
    challenge = parse_challenge(
        'Digest realm="Huawei",nonce="18c8db501108b585bab3243e2a09509d",'
        'domain="sip:Huawei.com",stale=false,algorithm=MD5')
    assert challenge.scheme == "Digest"
    assert challenge.realm == "Huawei"
    assert challenge.nonce == "18c8db501108b585bab3243e2a09509d"
    assert challenge.domain == "sip:Huawei.com"
    assert challenge.algorithm == "MD5" and challenge.algorithm_given
    assert challenge.stale is False
    assert challenge.qop == []
    assert challenge.opaque is None


def test_parse_challenge_qop_stale_userhash_and_defaults():
    challenge = parse_challenge(
        'DIGEST  Realm = "a \\"quoted\\", realm" , NONCE="x", QOP="auth-int , Auth",'
        ' stale=TRUE, userhash=true, opaque="", algorithm=sha-256-SESS')
    assert challenge.realm == 'a "quoted", realm'
    assert challenge.qop == ["auth-int", "auth"]
    assert challenge.stale is True and challenge.userhash is True
    assert challenge.opaque == ""
    assert challenge.algorithm == "SHA-256-sess"
    plain = parse_challenge('Digest realm="r", nonce="n"')
    assert plain.algorithm == "MD5" and not plain.algorithm_given


def test_parse_several_challenges_in_one_value():
    items = parse_challenges('Digest realm="a", nonce="1", Digest realm="b", nonce="2", '
                             'algorithm=SHA-256, Basic realm="c"')
    assert [(c.scheme, c.realm) for c in items] == [("Digest", "a"), ("Digest", "b"),
                                                     ("Basic", "c")]
    assert items[1].algorithm == "SHA-256"


def test_malformed_challenges_give_clear_errors():
    cases = (
        ('Digest realm="open', "unterminated"),
        ('Digest nonce="n"', "without realm"),
        ('Digest realm="r"', "without nonce"),
        ('realm="r", nonce="n"', "before the scheme"),
        ("", "empty"),
        ('Digest realm="r" nonce="n"', "expected ','"),
        ('Digest realm=, nonce="n"', "no value"),
        ('Digest realm="r", realm="s", nonce="n"', "duplicate"),
        ('Digest "r"', "unexpected"),
    )
    for text, words in cases:
        try:
            parse_challenge(text)
        except DigestError as exc:
            assert words in str(exc), (text, str(exc))
            assert isinstance(exc, SipSyntaxError)
        else:
            raise AssertionError("accepted %r" % text)


# -- the client -----------------------------------------------------------------

def test_client_answers_rfc7616_md5_challenge():
    client = DigestClient(RFC_USER, RFC_PASSWORD, tokens(RFC_CNONCE))
    req = request("GET", RFC_URI)
    assert client.handle_challenge(req, challenge_response(401, rfc_challenge("MD5")))
    client.authorize(req)
    [auth] = credentials(req)
    assert auth["username"] == RFC_USER
    assert auth["realm"] == RFC_REALM
    assert auth["uri"] == RFC_URI
    assert auth["nonce"] == RFC_NONCE
    assert auth["opaque"] == RFC_OPAQUE
    assert auth["algorithm"] == "MD5"
    assert auth["qop"] == "auth" and auth["nc"] == "00000001"
    assert auth["cnonce"] == RFC_CNONCE
    assert auth["response"] == RFC_MD5
    assert req.headers.get("Proxy-Authorization") is None


def test_client_prefers_sha256_when_offered_with_md5():
    client = DigestClient(RFC_USER, RFC_PASSWORD, tokens(RFC_CNONCE))
    req = request("GET", RFC_URI)
    response = challenge_response(401, rfc_challenge("MD5"), rfc_challenge("SHA-256"))
    assert client.handle_challenge(req, response)
    client.authorize(req)
    [auth] = credentials(req)
    assert auth["algorithm"] == "SHA-256"
    assert auth["response"] == RFC_SHA256


def test_client_refuses_sha512_256_alone_and_falls_back_when_offered_md5():
    client = DigestClient("alice", SECRET, counter_tokens())
    only = challenge_response(401, digest(extra=", algorithm=SHA-512-256, qop=auth"))
    assert client.handle_challenge(request(), only) is False
    assert "SHA-512-256" in client.last_error
    assert client.realms() == []
    both = challenge_response(401, digest(extra=", algorithm=SHA-512-256, qop=auth"),
                              digest(extra=", algorithm=MD5, qop=auth"))
    assert client.handle_challenge(request(), both) is True
    req = request()
    client.authorize(req)
    assert credentials(req)[0]["algorithm"] == "MD5"


def test_client_without_qop_answers_rfc2069_style():
    client = DigestClient("Mufasa", "CircleOfLife", counter_tokens())
    req = request("GET", "/dir/index.html")
    challenge = ('Digest realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",'
                 ' opaque="5ccc069c403ebaf9f0171e9517f40e41"')
    assert client.handle_challenge(req, challenge_response(401, challenge))
    client.authorize(req)
    [auth] = credentials(req)
    assert auth["response"] == "1949323746fe6a43ef61f9606e7febea"
    assert auth["opaque"] == "5ccc069c403ebaf9f0171e9517f40e41"
    for absent in ("qop", "nc", "cnonce", "algorithm"):
        assert absent not in auth


def test_client_auth_int_covers_the_body():
    client = DigestClient("alice", SECRET, tokens("c0ffee"))
    body = b"v=0\r\n"
    req = request("INVITE", "sip:bob@example.com", body)
    assert client.handle_challenge(req, challenge_response(407, digest(extra=', qop="auth-int"')))
    client.authorize(req)
    [auth] = credentials(req, "Proxy-Authorization")
    assert auth["qop"] == "auth-int"
    assert auth["response"] == compute_response("MD5", "alice", SECRET, "sip.example.com", "n1",
                                                "INVITE", "sip:bob@example.com", "auth-int", 1,
                                                "c0ffee", body)


def test_digest_uri_is_the_request_uri_and_method_counts():
    client = DigestClient("alice", SECRET, tokens("abc"))
    req = request("INVITE", "sip:bob@example.com;user=phone")
    client.handle_challenge(req, challenge_response(407, digest(extra=", qop=auth")))
    client.authorize(req)
    [auth] = credentials(req, "Proxy-Authorization")
    assert auth["uri"] == "sip:bob@example.com;user=phone"
    assert auth["response"] == compute_response("MD5", "alice", SECRET, "sip.example.com", "n1",
                                                "INVITE", "sip:bob@example.com;user=phone",
                                                "auth", 1, "abc")


def test_auth_user_replaces_username_in_credentials():
    client = DigestClient("2001", SECRET, tokens("abc"), auth_user="acct-77")
    req = request()
    client.handle_challenge(req, challenge_response(401, digest()))
    client.authorize(req)
    assert credentials(req)[0]["username"] == "acct-77"


def test_userhash_sends_hashed_username():
    client = DigestClient("alice", SECRET, tokens("abc"))
    req = request()
    client.handle_challenge(req, challenge_response(
        401, digest(extra=", algorithm=SHA-256, qop=auth, userhash=true")))
    client.authorize(req)
    [auth] = credentials(req)
    assert auth["userhash"] == "true"
    assert len(auth["username"]) == 64 and auth["username"] != "alice"
    # the response itself is still computed over the real user name
    assert auth["response"] == compute_response("SHA-256", "alice", SECRET, "sip.example.com",
                                                "n1", "REGISTER", "sip:registrar.example.com",
                                                "auth", 1, "abc")


def test_stale_nonce_is_answered_without_failure():
    client = DigestClient("alice", SECRET, counter_tokens())
    first = request()
    assert client.handle_challenge(first, challenge_response(401, digest(nonce="old",
                                                                         extra=", qop=auth")))
    second = request()
    client.authorize(second)
    assert credentials(second)[0]["nonce"] == "old"
    stale = challenge_response(401, digest(nonce="new", extra=", qop=auth, stale=TRUE"))
    assert client.handle_challenge(second, stale) is True
    assert client.last_error is None
    third = request()
    client.authorize(third)
    auth = credentials(third)[0]
    assert auth["nonce"] == "new" and auth["nc"] == "00000001"


def test_same_nonce_rejected_again_is_failure():
    client = DigestClient("alice", "wrong-password", counter_tokens())
    req = request()
    assert client.handle_challenge(req, challenge_response(401, digest(nonce="n9")))
    client.authorize(req)
    again = challenge_response(401, digest(nonce="n9", extra=", stale=false"))
    assert client.handle_challenge(req, again) is False
    assert "rejected" in client.last_error and "sip.example.com" in client.last_error
    assert "wrong-password" not in client.last_error
    # the refused credentials are not offered again
    assert client.realms() == []
    later = request()
    client.authorize(later)
    assert later.headers.get("Authorization") is None


def test_fresh_nonce_every_time_is_bounded():
    client = DigestClient("alice", SECRET, counter_tokens())
    req = request()
    assert client.handle_challenge(req, challenge_response(401, digest(nonce="n0")))
    results = []
    for round_number in range(1, MAX_REJECTIONS + 2):
        client.authorize(req)
        nonce = "n%d" % round_number
        results.append(client.handle_challenge(req, challenge_response(401, digest(nonce=nonce))))
    assert results == [True] * MAX_REJECTIONS + [False]


def test_registrar_and_proxy_realms_are_both_kept():
    client = DigestClient("alice", SECRET, counter_tokens())
    register = request()
    assert client.handle_challenge(register, challenge_response(
        401, digest(realm="registrar", nonce="r1", extra=", qop=auth")))
    invite = request("INVITE", "sip:bob@example.com")
    client.authorize(invite)
    assert client.handle_challenge(invite, challenge_response(
        407, digest(realm="proxy", nonce="p1", extra=", qop=auth")))
    client.authorize(invite)
    assert [a["realm"] for a in credentials(invite)] == ["registrar"]
    assert [a["realm"] for a in credentials(invite, "Proxy-Authorization")] == ["proxy"]
    assert sorted(client.realms()) == [("proxy", True), ("registrar", False)]


def test_one_response_with_two_realms():
    client = DigestClient("alice", SECRET, counter_tokens())
    req = request("INVITE", "sip:bob@example.com")
    response = challenge_response(407, digest(realm="edge", nonce="e1"),
                                  digest(realm="core", nonce="c1"))
    assert client.handle_challenge(req, response)
    client.authorize(req)
    realms = [a["realm"] for a in credentials(req, "Proxy-Authorization")]
    assert realms == ["edge", "core"]


def test_same_realm_from_proxy_and_registrar_kept_apart():
    client = DigestClient("alice", SECRET, counter_tokens())
    req = request("INVITE", "sip:bob@example.com")
    client.handle_challenge(req, challenge_response(401, digest(nonce="www")))
    client.handle_challenge(req, challenge_response(407, digest(nonce="prx")))
    client.authorize(req)
    assert credentials(req)[0]["nonce"] == "www"
    assert credentials(req, "Proxy-Authorization")[0]["nonce"] == "prx"


def test_proactive_credentials_count_up():
    client = DigestClient("alice", SECRET, tokens("feed"))
    first = request("INVITE", "sip:bob@example.com")
    client.handle_challenge(first, challenge_response(407, digest(extra=', qop="auth"')))
    seen = []
    for method, uri in (("INVITE", "sip:bob@example.com"), ("INVITE", "sip:carol@example.com"),
                        ("BYE", "sip:bob@192.0.2.9")):
        req = request(method, uri)
        client.authorize(req)
        [auth] = credentials(req, "Proxy-Authorization")
        assert auth["cnonce"] == "feed"
        assert auth["response"] == compute_response("MD5", "alice", SECRET, "sip.example.com",
                                                    "n1", method, uri, "auth", auth["nc"],
                                                    "feed")
        seen.append(auth["nc"])
    assert seen == ["00000001", "00000002", "00000003"]


def test_proactive_credentials_rejected_with_new_nonce_are_renewed():
    client = DigestClient("alice", SECRET, counter_tokens())
    req = request()
    client.handle_challenge(req, challenge_response(401, digest(nonce="a", extra=", qop=auth")))
    client.authorize(request())
    later = request()
    client.authorize(later)
    assert credentials(later)[0]["nc"] == "00000002"
    # A server that lets nonces expire without saying stale=true.
    assert client.handle_challenge(later, challenge_response(
        401, digest(nonce="b", extra=", qop=auth, stale=false")))
    client.authorize(later)
    auth = credentials(later)[0]
    assert (auth["nonce"], auth["nc"]) == ("b", "00000001")


def test_authorize_replaces_old_credentials():
    client = DigestClient("alice", SECRET, counter_tokens())
    req = request()
    req.headers.add("Authorization", 'Digest username="old", realm="x", nonce="y", uri="z", '
                    'response="0"')
    client.handle_challenge(req, challenge_response(401, digest()))
    client.authorize(req)
    client.authorize(req)
    assert len(req.headers.get_all("Authorization")) == 1
    assert credentials(req)[0]["username"] == "alice"


def test_ack_and_cancel_are_left_alone():
    client = DigestClient("alice", SECRET, counter_tokens())
    client.handle_challenge(request(), challenge_response(407, digest()))
    for method in ("ACK", "CANCEL"):
        req = request(method, "sip:bob@example.com")
        req.headers.add("Proxy-Authorization", "Digest copied-from-invite")
        client.authorize(req)
        assert req.headers.get_all("Proxy-Authorization") == ["Digest copied-from-invite"]


def test_forget():
    client = DigestClient("alice", SECRET, counter_tokens())
    client.handle_challenge(request(), challenge_response(401, digest(realm="a")))
    client.handle_challenge(request(), challenge_response(407, digest(realm="b")))
    client.forget("a")
    assert client.realms() == [("b", True)]
    client.forget()
    assert client.realms() == []


def test_unusable_responses_return_false_with_reason():
    client = DigestClient("alice", SECRET, counter_tokens())
    assert client.handle_challenge(request(), Response(403)) is False
    assert "403" in client.last_error
    assert client.handle_challenge(request(), Response(401)) is False
    assert "WWW-Authenticate" in client.last_error
    assert client.handle_challenge(request(), challenge_response(401, 'Digest realm="x')) is False
    assert "unterminated" in client.last_error
    assert client.handle_challenge(request(), challenge_response(401, 'Basic realm="x"')) is False
    assert "Basic" in client.last_error
    sess_without_qop = digest(extra=", algorithm=MD5-sess")
    assert client.handle_challenge(request(), challenge_response(401, sess_without_qop)) is False
    assert client.handle_challenge(request(), challenge_response(
        401, digest(extra=', qop="auth-conf"'))) is False
    assert "qop" in client.last_error


def test_password_never_shown():
    client = DigestClient("alice", SECRET, counter_tokens())
    req = request()
    client.handle_challenge(req, challenge_response(401, digest(realm=SECRET[:4])))
    client.authorize(req)
    texts = [repr(client), str(client), req.headers.get("Authorization")]
    client.handle_challenge(req, challenge_response(401, digest(realm=SECRET[:4])))
    texts.append(client.last_error)
    for bad in ('Digest realm="%s' % "x", "Digest nonce=1"):
        try:
            parse_challenge(bad)
        except DigestError as exc:
            texts.append(str(exc))
            texts.append(repr(exc))
    try:
        DigestClient("alice", 31337, counter_tokens())
    except DigestError as exc:
        texts.append(str(exc))
    for text in texts:
        assert SECRET not in text and "31337" not in text, text
    assert "alice" in repr(client)


def test_stale_flag_keeps_retrying_but_not_for_ever():
    client = DigestClient("alice", SECRET, counter_tokens())
    req = request()
    stale = challenge_response(401, digest(nonce="same", extra=", stale=true"))
    assert client.handle_challenge(req, challenge_response(401, digest(nonce="same")))
    results = []
    for _ in range(MAX_REJECTIONS + 1):
        client.authorize(req)
        results.append(client.handle_challenge(req, stale))
    assert results == [True] * MAX_REJECTIONS + [False]
