"""tools/sipcheck, run as users run it: a subprocess on files."""

import json
import os
import random
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SIPCHECK = os.path.join(ROOT, "tools", "sipcheck")
CORPUS = os.path.join("..", "shared", "corpus")

GOOD = (b"OPTIONS sip:bob@example.com SIP/2.0\r\n"
        b"Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKabc\r\n"
        b"From: <sip:a@example.com>;tag=1\r\n"
        b"To: <sip:bob@example.com>\r\n"
        b"Call-ID: c1@h\r\n"
        b"CSeq: 5 OPTIONS\r\n"
        b"Content-Length: 0\r\n\r\n")
RESPONSE = (b"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\n"
            b"To: <sip:c@d>;tag=2\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n")


def run(*args, stdin=None):
    return subprocess.run([sys.executable, SIPCHECK, *args], input=stdin, capture_output=True,
                          timeout=60, cwd=ROOT)


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_is_an_executable_script():
    assert os.access(SIPCHECK, os.X_OK)
    with open(SIPCHECK, "rb") as f:
        assert f.readline() == b"#!/usr/bin/env python3\n"
    result = subprocess.run([SIPCHECK, "--help"], capture_output=True, timeout=60, cwd="/")
    assert result.returncode == 0
    assert b"usage" in result.stdout


def test_accepted_request_and_response(tmp_path):
    req = write(tmp_path, "req.sip", GOOD)
    resp = write(tmp_path, "resp.sip", RESPONSE)
    result = run(req, resp)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.decode().splitlines()
    assert lines[0].startswith(req + ": ok OPTIONS sip:bob@example.com ")
    assert "cseq 5 OPTIONS" in lines[0]
    assert lines[1].startswith(resp + ": ok 180 Ringing ")
    assert len(lines) == 2


def test_rejections_name_the_response(tmp_path):
    bad_to = write(tmp_path, "to.sip", GOOD.replace(b"To: <sip:bob@example.com>", b'To: "x <sip:b@h>'))
    version = write(tmp_path, "ver.sip", GOOD.replace(b"SIP/2.0\r\n", b"SIP/3.0\r\n", 1))
    broken_response = write(tmp_path, "resp.sip", RESPONSE.replace(b"CSeq: 1", b"CSeq: x"))
    good = write(tmp_path, "good.sip", GOOD)
    result = run(good, bad_to, version, broken_response)
    assert result.returncode == 1
    lines = result.stdout.decode().splitlines()
    assert lines[0].startswith(good + ": ok ")
    assert lines[1].startswith(bad_to + ": reject 400 Bad Request - malformed To header")
    assert lines[2].startswith(version + ": reject 505 Version Not Supported")
    assert lines[3].startswith(broken_response + ": reject none ")


def test_json_output(tmp_path):
    good = write(tmp_path, "good.sip", GOOD)
    bad = write(tmp_path, "bad.sip", GOOD.replace(b"OPTIONS sip:", b"OPTIONS http:"))
    result = run("--json", good, bad)
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert [d["file"] for d in data] == [good, bad]
    assert data[0]["verdict"] == "ok" and data[0]["method"] == "OPTIONS"
    assert data[0]["call_id"] == "c1@h" and data[0]["body_bytes"] == 0
    assert data[1]["verdict"] == "reject" and data[1]["status"] == 416
    assert data[1]["answered"] is True


def test_usage_errors_exit_2(tmp_path):
    assert run().returncode == 2
    result = run("--frobnicate", write(tmp_path, "a.sip", GOOD))
    assert result.returncode == 2 and b"unknown option" in result.stderr
    result = run(str(tmp_path / "missing.sip"))
    assert result.returncode == 2 and b"cannot read" in result.stderr
    result = run(str(tmp_path))  # a directory
    assert result.returncode == 2
    # the readable files are still checked
    result = run(write(tmp_path, "a.sip", GOOD), str(tmp_path / "missing.sip"))
    assert result.returncode == 2 and b": ok " in result.stdout


def test_stdin_and_double_dash(tmp_path):
    result = run("-", stdin=GOOD)
    assert result.returncode == 0 and result.stdout.startswith(b"-: ok OPTIONS")
    write(tmp_path, "-odd.sip", GOOD)
    result = subprocess.run([sys.executable, SIPCHECK, "--", "-odd.sip"], capture_output=True,
                            timeout=60, cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(b"-odd.sip: ok ")


def test_never_crashes_whatever_the_bytes(tmp_path):
    rng = random.Random(4475)
    paths = []
    for i in range(40):
        size = rng.choice([0, 1, 2, 10, 100, 1000, 70000])
        data = bytes(rng.getrandbits(8) for _ in range(size))
        if i % 2:  # damage a valid message instead
            data = bytearray(GOOD)
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] = rng.getrandbits(8)
            data = bytes(data)
        paths.append(write(tmp_path, "r%d.sip" % i, data))
    result = run(*paths)
    assert result.returncode in (0, 1), result.stderr
    assert result.stderr == b""
    lines = result.stdout.splitlines()
    assert len(lines) == len(paths)
    assert all(b": ok " in line or b": reject " in line for line in lines)
    result = run("--json", *paths)
    assert len(json.loads(result.stdout)) == len(paths)


def test_huge_input_is_not_read_whole():
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero")
    result = run("/dev/zero")
    assert result.returncode == 1
    assert b"reject none Request Entity Too Large" in result.stdout


def test_corpus_folders():
    folder = os.path.join(ROOT, CORPUS, "rfc4475")
    if not os.path.isdir(folder):
        pytest.skip("corpus not available")
    files = sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".sip"))
    result = run("--json", *files)
    assert result.returncode == 1
    verdicts = {os.path.basename(d["file"]): d for d in json.loads(result.stdout)}
    assert verdicts["wsinv.sip"]["verdict"] == "ok"
    assert verdicts["badvers.sip"]["status"] == 505
    assert verdicts["unkscm.sip"]["status"] == 416
    assert verdicts["scalarlg.sip"]["status"] is None
    valid = os.path.join(ROOT, CORPUS, "valid")
    files = sorted(os.path.join(valid, f) for f in os.listdir(valid) if f.endswith(".sip"))
    result = run(*files)
    assert result.returncode == 0, result.stdout
