"""A malformed request on the proxy connection gets its error response and costs nothing else.

Rule: the phone answers what the message layer names (400 with a reason for a
bad CSeq) on the same persistent TLS connection, keeps that connection, and
answers the next good request (OPTIONS, 200) as if nothing had happened.
"""

from phonetest import PhoneThread, certs, phone_config
from test_proxy_keepalive import ScriptedProxy

__all__ = ["certs"]


def request(method, cseq, extra=()):
    lines = ["%s sip:alice@127.0.0.1 SIP/2.0" % method,
             "Via: SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bK-test-%s" % method.lower(),
             "From: <sip:carol@remote.test>;tag=carol1",
             "To: <sip:alice@example.test>",
             "Call-ID: malformed-test-%s" % method.lower(),
             "CSeq: %s" % cseq,
             "Max-Forwards: 70"]
    lines.extend(extra)
    lines.append("Content-Length: 0")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_bad_cseq_gets_400_and_the_connection_goes_on(certs):
    proxy = ScriptedProxy(certs)
    doc = phone_config(certs, proxy)
    try:
        with PhoneThread(doc) as phone:
            proxy.accept()
            proxy.answer_register(proxy.read_message())
            phone.wait_event("REGISTERED", 5)
            proxy.conn.sendall(request("INVITE", "one INVITE"))
            bad = proxy.read_message()
            proxy.conn.sendall(request("OPTIONS", "7 OPTIONS"))
            good = proxy.read_message()
            downs = phone.find("PROXY_DOWN")
            errors = phone.find("INTERNAL_ERROR")
    finally:
        proxy.close()
    status_line = bad.split("\r\n")[0]
    assert status_line.startswith("SIP/2.0 400 "), bad
    assert "CSeq" in status_line or "cseq" in status_line.lower(), status_line
    assert "Call-ID: malformed-test-invite" in bad
    assert good.split("\r\n")[0] == "SIP/2.0 200 OK", good
    assert "CSeq: 7 OPTIONS" in good
    assert downs == [] and errors == [], phone.describe()
