"""TLS contexts for the phone, secure by default, and TLS failures named plainly.

Rule: every client context verifies the peer certificate against a configured
CA and a name (the proxy's hostname, or its IP when no hostname is known);
TLS 1.2 is the minimum; there is no switch to turn verification off. A failure
is reduced to one of the reasons of DESIGN rule 5 (``untrusted``, ``hostname
mismatch``, ``expired``, ``handshake failed``, ``refused``, ``timed out``,
``reset``) so that the application gets an error event, never a fallback.
"""

import errno
import ssl

REASON_UNTRUSTED = "untrusted"
REASON_HOSTNAME = "hostname mismatch"
REASON_EXPIRED = "expired"
REASON_HANDSHAKE = "handshake failed"
REASON_REFUSED = "refused"
REASON_TIMEOUT = "timed out"
REASON_RESET = "reset"

_EPIPE = getattr(errno, "EPIPE", 32)   # absent from MicroPython's errno

# OpenSSL X509_V_ERR_* codes that matter to a phone user.
_X509_EXPIRED = (10,)                  # certificate has expired
_X509_NOT_YET_VALID = (9,)
_X509_HOSTNAME = (62, 63, 64)          # hostname / email / IP mismatch
_X509_UNTRUSTED = (2, 18, 19, 20, 21, 27, 28)


def _set_minimum_tls12(context):
    if hasattr(ssl, "TLSVersion") and hasattr(context, "minimum_version"):
        context.minimum_version = ssl.TLSVersion.TLSv1_2
    else:
        # MicroPython's mbedTLS port speaks TLS 1.2 only: nothing older to refuse.
        pass


def client_context(ca_file, cert_file=None, key_file=None, keylog_file=None):
    """A context that trusts only ``ca_file`` and checks the peer's name."""
    if not ca_file:
        raise ValueError("a CA file is required: the proxy certificate is always verified")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    _set_minimum_tls12(context)
    context.verify_mode = ssl.CERT_REQUIRED
    if hasattr(context, "check_hostname"):
        context.check_hostname = True
    context.load_verify_locations(cafile=ca_file)
    if cert_file:
        context.load_cert_chain(cert_file, key_file)
    if keylog_file and hasattr(context, "keylog_filename"):
        context.keylog_filename = keylog_file
    return context


def server_context(cert_file, key_file, ca_file=None, keylog_file=None):
    """The phone's own TLS server (DESIGN rule 4). With ``ca_file``, clients
    presenting a certificate are verified against it."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _set_minimum_tls12(context)
    context.load_cert_chain(cert_file, key_file)
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
        context.verify_mode = ssl.CERT_OPTIONAL
    if keylog_file and hasattr(context, "keylog_filename"):
        context.keylog_filename = keylog_file
    return context


def classify_error(exc):
    """Map an exception from connect/handshake/read to a reason of DESIGN rule 5."""
    code = getattr(exc, "verify_code", None)
    if code is not None:
        if code in _X509_EXPIRED or code in _X509_NOT_YET_VALID:
            return REASON_EXPIRED
        if code in _X509_HOSTNAME:
            return REASON_HOSTNAME
        if code in _X509_UNTRUSTED:
            return REASON_UNTRUSTED
        return REASON_HANDSHAKE
    text = str(exc).lower()
    if "expired" in text:
        return REASON_EXPIRED
    if "hostname" in text or "ip address mismatch" in text or "doesn't match" in text:
        return REASON_HOSTNAME
    if "certificate verify failed" in text or "unknown ca" in text or "self-signed" in text:
        return REASON_UNTRUSTED
    number = getattr(exc, "errno", None)
    if number is None and getattr(exc, "args", None):
        first = exc.args[0]
        number = first if isinstance(first, int) else None
    if number == errno.ECONNREFUSED:
        return REASON_REFUSED
    if number in (errno.ECONNRESET, _EPIPE):
        return REASON_RESET
    if number == errno.ETIMEDOUT or type(exc).__name__ == "TimeoutError":
        return REASON_TIMEOUT
    return REASON_HANDSHAKE
