"""Throughput of SIP message parse + serialise, ours against sippy and pyVoIP.

Rule: figures are printed, never asserted. Every parser gets the same
realistic mix of a phone's traffic (REGISTER, 401 with WWW-Authenticate,
INVITE with SDP, 180, 200 with SDP, ACK, BYE) as bytes off the wire; before
timing, each must show it did its whole job on every message (ours and sippy
give the very bytes back, pyVoIP fills in its fields and the SDP). The runs
are interleaved and the best of several rounds is kept, so other load on the
machine disturbs the ratios as little as possible.

Entry points measured (the work each library does when a message arrives):
  ours       firmware.core.parse.parse_message(data) -> msg.serialize(); the
             parser checks every header a message needs and builds no objects
  sippy      SipRequest/SipResponse(buf=data.decode()) -> str(msg).encode();
             no checks beyond a few headers being present, objects built lazily
  pyVoIP     pyVoIP.SIP.SIPMessage(data): no checks, but Via, From, To, CSeq,
             the challenge and the SDP body are taken apart on the spot. pyVoIP
             has no serialiser (it writes messages from string templates), so it
             is timed on parsing alone, against our parsing alone; REGISTER is
             added to the list of methods it will parse.
  ours (MicroPython) the same loop as ours, in .venv/bin/micropython, if present.

Two more rows keep the comparison honest where the entry points differ:
  ours, rebuilt      serialize() joins the header lines as for a message built
                     here, instead of reusing the received bytes of an unchanged
                     message: the work sippy's str() does
  ours, fields read  parse_message() and then what pyVoIP's parse gives: the
                     Via, From, To, CSeq and Call-ID values, the Allow and
                     Supported lists, the challenge (firmware.core.digest) and the
                     SDP (firmware.core.sdp), each as objects
"""

import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from firmware.core.parse import parse_message  # noqa: E402

SDP = (b"v=0\r\n"
       b"o=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\n"
       b"s=-\r\n"
       b"c=IN IP4 192.0.2.10\r\n"
       b"t=0 0\r\n"
       b"m=audio 49170 RTP/AVP 0 8 101\r\n"
       b"a=rtpmap:0 PCMU/8000\r\n"
       b"a=rtpmap:8 PCMA/8000\r\n"
       b"a=rtpmap:101 telephone-event/8000\r\n"
       b"a=fmtp:101 0-15\r\n"
       b"a=ptime:20\r\n"
       b"a=sendrecv\r\n")


def _msg(head, body=b""):
    return head.replace(b"\n", b"\r\n") + b"Content-Length: %d\r\n\r\n" % len(body) + body


MIX = [
    _msg(b"REGISTER sip:pbx.example.com SIP/2.0\n"
         b"Via: SIP/2.0/TLS 192.0.2.10:5061;branch=z9hG4bK776asdhds;rport;alias\n"
         b"Max-Forwards: 70\n"
         b"From: <sip:1001@pbx.example.com>;tag=49583\n"
         b"To: <sip:1001@pbx.example.com>\n"
         b"Call-ID: 843817637684230@998sdasdh09\n"
         b"CSeq: 1826 REGISTER\n"
         b"Contact: <sip:1001@192.0.2.10:5061;transport=tls>;reg-id=1;"
         b"+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\"\n"
         b"Expires: 3600\n"
         b"Supported: outbound, path\n"
         b"User-Agent: deskphone/0.1\n"),
    _msg(b"SIP/2.0 401 Unauthorized\n"
         b"Via: SIP/2.0/TLS 192.0.2.10:5061;branch=z9hG4bK776asdhds;rport=40123;"
         b"received=198.51.100.7;alias\n"
         b"From: <sip:1001@pbx.example.com>;tag=49583\n"
         b"To: <sip:1001@pbx.example.com>;tag=a6c85cf\n"
         b"Call-ID: 843817637684230@998sdasdh09\n"
         b"CSeq: 1826 REGISTER\n"
         b"WWW-Authenticate: Digest realm=\"pbx.example.com\", "
         b"nonce=\"ea9c8e88df84f1cec4341ae6cbe5a359\", qop=\"auth\", algorithm=MD5, stale=FALSE\n"
         b"Server: kamailio (5.6.3 (x86_64/linux))\n"),
    _msg(b"INVITE sip:1002@pbx.example.com SIP/2.0\n"
         b"Via: SIP/2.0/TLS 192.0.2.10:5061;branch=z9hG4bKnashds8;rport;alias\n"
         b"Max-Forwards: 70\n"
         b"Route: <sip:pbx.example.com;transport=tls;lr>\n"
         b"From: \"Alice\" <sip:1001@pbx.example.com>;tag=1928301774\n"
         b"To: <sip:1002@pbx.example.com>\n"
         b"Call-ID: a84b4c76e66710@pc33.example.com\n"
         b"CSeq: 314159 INVITE\n"
         b"Contact: <sip:1001@192.0.2.10:5061;transport=tls;ob>\n"
         b"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, NOTIFY, REFER, UPDATE, PRACK\n"
         b"Supported: replaces, timer, 100rel\n"
         b"User-Agent: deskphone/0.1\n"
         b"Content-Type: application/sdp\n", SDP),
    _msg(b"SIP/2.0 180 Ringing\n"
         b"Via: SIP/2.0/TLS 192.0.2.10:5061;branch=z9hG4bKnashds8;rport=40123;"
         b"received=198.51.100.7;alias\n"
         b"Record-Route: <sip:pbx.example.com;transport=tls;lr>\n"
         b"From: \"Alice\" <sip:1001@pbx.example.com>;tag=1928301774\n"
         b"To: <sip:1002@pbx.example.com>;tag=a6c85cf\n"
         b"Call-ID: a84b4c76e66710@pc33.example.com\n"
         b"CSeq: 314159 INVITE\n"
         b"Contact: <sip:1002@192.0.2.20:5061;transport=tls>\n"),
    _msg(b"SIP/2.0 200 OK\n"
         b"Via: SIP/2.0/TLS 192.0.2.10:5061;branch=z9hG4bKnashds8;rport=40123;"
         b"received=198.51.100.7;alias\n"
         b"Record-Route: <sip:pbx.example.com;transport=tls;lr>\n"
         b"From: \"Alice\" <sip:1001@pbx.example.com>;tag=1928301774\n"
         b"To: <sip:1002@pbx.example.com>;tag=a6c85cf\n"
         b"Call-ID: a84b4c76e66710@pc33.example.com\n"
         b"CSeq: 314159 INVITE\n"
         b"Contact: <sip:1002@192.0.2.20:5061;transport=tls>\n"
         b"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS\n"
         b"Content-Type: application/sdp\n", SDP.replace(b"192.0.2.10", b"192.0.2.20")),
    _msg(b"ACK sip:1002@192.0.2.20:5061;transport=tls SIP/2.0\n"
         b"Via: SIP/2.0/TLS 192.0.2.10:5061;branch=z9hG4bK74b76;rport;alias\n"
         b"Max-Forwards: 70\n"
         b"Route: <sip:pbx.example.com;transport=tls;lr>\n"
         b"From: \"Alice\" <sip:1001@pbx.example.com>;tag=1928301774\n"
         b"To: <sip:1002@pbx.example.com>;tag=a6c85cf\n"
         b"Call-ID: a84b4c76e66710@pc33.example.com\n"
         b"CSeq: 314159 ACK\n"),
    _msg(b"BYE sip:1002@192.0.2.20:5061;transport=tls SIP/2.0\n"
         b"Via: SIP/2.0/TLS 192.0.2.10:5061;branch=z9hG4bK74b77;rport;alias\n"
         b"Max-Forwards: 70\n"
         b"Route: <sip:pbx.example.com;transport=tls;lr>\n"
         b"From: \"Alice\" <sip:1001@pbx.example.com>;tag=1928301774\n"
         b"To: <sip:1002@pbx.example.com>;tag=a6c85cf\n"
         b"Call-ID: a84b4c76e66710@pc33.example.com\n"
         b"CSeq: 314160 BYE\n"),
]

ROUNDS = 15
SECONDS_PER_RUN = 0.1


def ours(data):
    return parse_message(data).serialize()


def ours_parse(data):
    return parse_message(data)


def ours_rebuilt(data):
    msg = parse_message(data)
    msg.headers._wire = None  # forget the received bytes: serialise from the lines
    return msg.serialize()


def _ours_fields():
    from firmware.core.digest import parse_challenge
    from firmware.core.sdp import parse_sdp

    def run(data):
        msg = parse_message(data)
        msg.call_id()
        msg.cseq()
        msg.vias()
        msg.from_addr()
        msg.to_addr()
        headers = msg.headers
        headers.get_all("Allow")
        headers.get_all("Supported")
        challenge = headers.get("WWW-Authenticate")
        if challenge is not None:
            parse_challenge(challenge)
        if msg.body:
            parse_sdp(msg.body)
        return msg

    return run


def _sippy():
    from sippy.SipRequest import SipRequest
    from sippy.SipResponse import SipResponse

    def run(data):
        text = data.decode()
        msg = SipResponse(buf=text) if text.startswith("SIP/") else SipRequest(buf=text)
        return str(msg).encode()

    return run


def _pyvoip():
    import pyVoIP
    import pyVoIP.VoIP  # noqa: F401 (imports pyVoIP.SIP in the order it needs)
    from pyVoIP.SIP import SIPMessage

    if "REGISTER" not in pyVoIP.SIPCompatibleMethods:
        pyVoIP.SIPCompatibleMethods.append("REGISTER")
    return SIPMessage


def _loop(fn, times):
    mix = MIX
    start = time.perf_counter()
    for _ in range(times):
        for data in mix:
            fn(data)
    return time.perf_counter() - start


def _calibrate(fn):
    times = 1
    while True:
        elapsed = _loop(fn, times)
        if elapsed >= SECONDS_PER_RUN / 4:
            return max(1, int(times * SECONDS_PER_RUN / elapsed))
        times *= 4


MICROPYTHON_LOOP = """
import sys
sys.path.insert(0, %(root)r)
import time
from firmware.core.parse import parse_message
MIX = %(mix)r
best = None
for _ in range(%(rounds)d):
    start = time.ticks_us()
    for _ in range(%(times)d):
        for data in MIX:
            parse_message(data).serialize()
    took = time.ticks_diff(time.ticks_us(), start)
    if best is None or took < best:
        best = took
print(%(times)d * len(MIX) * 1000000 // best)
"""


def _micropython_rate():
    exe = os.path.join(ROOT, ".venv", "bin", "micropython")
    if not os.access(exe, os.X_OK):
        return None, "no .venv/bin/micropython"
    script = MICROPYTHON_LOOP % {"root": ROOT, "mix": MIX, "rounds": 5, "times": 200}
    try:
        out = subprocess.run([exe, "-c", script], capture_output=True, timeout=300, text=True)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, str(exc)
    if out.returncode != 0:
        return None, (out.stderr or out.stdout).strip().splitlines()[-1:]
    return int(out.stdout.strip()), None


OURS = "ours (CPython)"
SAME = "parse + serialize"
PARSE = "parse only"
REBUILT = "parse + serialize, rebuilt"
FIELDS = "parse + fields read"


def _checked(name, fn):
    """fn, once it has shown it does its whole job on every message of the mix."""
    for data in MIX:
        out = fn(data)
        if name.startswith("pyVoIP"):
            assert out.headers["Call-ID"] and out.headers["Via"] and out.headers["CSeq"]["method"]
            assert (b"application/sdp" in data) == ("m" in out.body), name
        elif isinstance(out, bytes):
            assert out == data, name  # the mix is written as both serialisers write
        else:
            assert out.call_id(), name
    return fn


def _measure(contenders):
    counts = [_calibrate(fn) for _, _, fn in contenders]
    best = [None] * len(contenders)
    for _ in range(ROUNDS):
        for i, (_, _, fn) in enumerate(contenders):
            took = _loop(fn, counts[i])
            if best[i] is None or took < best[i]:
                best[i] = took
    return {(name, what): counts[i] * len(MIX) / best[i]
            for i, (name, what, _) in enumerate(contenders)}


def main():
    contenders = []
    for name, what, factory in ((OURS, SAME, lambda: ours), (OURS, PARSE, lambda: ours_parse),
                                (OURS, REBUILT, lambda: ours_rebuilt), (OURS, FIELDS, _ours_fields),
                                ("sippy 2.5.0", SAME, _sippy), ("pyVoIP 1.6.8", PARSE, _pyvoip)):
        try:
            contenders.append((name, what, _checked(name, factory())))
        except Exception as exc:  # a missing or failing contender is reported, not fatal
            print("%s (%s): not measured (%s: %s)" % (name, what, type(exc).__name__, exc))
    for data in MIX:  # our own output must parse back to the same message
        assert parse_message(ours(data)) == parse_message(data)
    rates = _measure(contenders)
    print("SIP message throughput, %d-message mix (REGISTER, 401, INVITE+SDP, 180, 200+SDP, "
          "ACK, BYE), best of %d interleaved rounds:" % (len(MIX), ROUNDS))
    peers = []
    for name, what, _ in contenders:
        rate = rates[(name, what)]
        ratio = ""
        if not name.startswith("ours"):
            peers.append(rate)
            mine = rates.get((OURS, what))
            if mine:
                ratio = "   ours is %.2fx (same entry point)" % (mine / rate)
        print("  %-20s %9.0f msg/s  %-28s%s" % (name, rate, "(" + what + ")", ratio))
    if peers and (OURS, SAME) in rates:
        print("  ours parse + serialize / fastest peer (pyVoIP only parses): %.2fx"
              % (rates[(OURS, SAME)] / max(peers)))
    print("  comparable work where the entry points differ:")
    for mine, name, what, note in ((REBUILT, "sippy 2.5.0", SAME, "both join header lines"),
                                   (FIELDS, "pyVoIP 1.6.8", PARSE, "both give the fields")):
        if (OURS, mine) in rates and (name, what) in rates:
            print("    ours (%s) / %s (%s): %.2fx  (%s)"
                  % (mine, name, what, rates[(OURS, mine)] / rates[(name, what)], note))
    rate, problem = _micropython_rate()
    if rate is None:
        print("  %-20s not measured (%s)" % ("ours (MicroPython)", problem))
    else:
        print("  %-20s %9.0f msg/s  (parse + serialize, unix port)" % ("ours (MicroPython)", rate))
    return 0


if __name__ == "__main__":
    sys.exit(main())
