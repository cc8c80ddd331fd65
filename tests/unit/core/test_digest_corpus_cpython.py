"""Digest against real traffic from the shared corpus, and fuzzed challenge text."""

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware.core.digest import DigestClient, DigestError, parse_challenge
from firmware.core.message import Request, Response
from firmware.core.parse import parse_message

CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "corpus" / "valid"

# (challenge, request that answered it in the capture)
PAIRS = [
    ("02_register_401_challenge_nero.sip", "04_register_authorized_nero.sip", "Authorization"),
    ("08_invite_407_proxy_auth.sip", "09_invite_proxy_authorization.sip", "Proxy-Authorization"),
    ("15_register_401_hello.sip", "16_register_authorized_hello.sip", "Authorization"),
    ("19_register_401_tcp.sip", "20_register_authorized_tcp.sip", "Authorization"),
    ("58_register_401_flexisip.sip", "57_register_authorized_linphone.sip", "Authorization"),
]


def load(name):
    path = CORPUS / name
    if not path.exists():
        pytest.skip("corpus not present: %s" % path)
    return parse_message(path.read_bytes())


def names(value):
    return set(name for name, _ in parse_challenge(value).params)


def test_corpus_challenges_answered_like_the_captured_phones():
    for challenge_file, request_file, header in PAIRS:
        response = load(challenge_file)
        captured = load(request_file)
        client = DigestClient("user", "not-the-real-password", lambda: "0a1b2c3d")
        req = Request(captured.method, captured.uri)
        assert client.handle_challenge(req, response), (challenge_file, client.last_error)
        client.authorize(req)
        [ours] = req.headers.get_all(header)
        [theirs] = captured.headers.get_all(header)
        mine = parse_challenge(ours)
        challenge = parse_challenge(response.headers.get(
            "Proxy-Authenticate" if response.status == 407 else "WWW-Authenticate"))
        assert mine.realm == parse_challenge(theirs).realm == challenge.realm
        assert mine.nonce == challenge.nonce
        # The same parameters as the phone that succeeded; algorithm is echoed
        # only when the server named it, and Nero's nc without qop is a bug
        # (RFC 2617 forbids nc when the server sent no qop).
        expected = names(theirs) - {"algorithm"}
        if "qop" not in expected:
            expected.discard("nc")
        assert names(ours) - {"algorithm"} == expected, challenge_file
        assert ("algorithm" in names(ours)) == challenge.algorithm_given


def test_second_identical_challenge_in_capture_is_failure():
    response = load("02_register_401_challenge_nero.sip")
    client = DigestClient("user", "pw", lambda: "c")
    req = Request("REGISTER", "sip:sip.cybercity.dk")
    assert client.handle_challenge(req, response)
    client.authorize(req)
    assert client.handle_challenge(req, response) is False


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=120))
def test_parse_challenge_raises_only_digest_error(text):
    try:
        parse_challenge(text)
    except DigestError:
        pass


PIECES = ["Digest", "Basic", " ", ",", "=", '"', "\\", "realm", "nonce", "qop", "auth",
          "auth-int", "stale", "true", "algorithm", "SHA-256", "MD5-sess", "SHA-512-256",
          "opaque", '"r"', '"n"', "userhash", "x"]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.lists(st.sampled_from(PIECES), max_size=20).map("".join), max_size=3),
       st.sampled_from([401, 407]))
def test_handle_challenge_never_raises(values, status):
    response = Response(status)
    for value in values:
        response.headers.add("WWW-Authenticate" if status == 401 else "Proxy-Authenticate",
                             value)
    client = DigestClient("alice", "pw", lambda: "c")
    req = Request("INVITE", "sip:bob@example.com", body=b"v=0\r\n")
    result = client.handle_challenge(req, response)
    assert result in (True, False)
    client.authorize(req)
    if result:
        assert client.handle_challenge(req, response) in (True, False)
