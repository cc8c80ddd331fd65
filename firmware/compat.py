"""The one place where CPython and MicroPython differ.

Rule: no other module in firmware/ looks at ``sys.implementation``. Anything
that needs a clock, random bytes, a hash in hex, ``const`` or the host and
port of a received datagram's address imports it from here, so the rest of the firmware reads the same on both interpreters.
"""

import binascii
import hashlib
import os
import sys

MICROPYTHON = sys.implementation.name == "micropython"

if MICROPYTHON:
    import time
    from micropython import const

    def ticks_ms():
        return time.ticks_ms()

    def ticks_diff(a, b):
        return time.ticks_diff(a, b)

    def monotonic():
        """Seconds as a float from an arbitrary origin, never going back."""
        return time.ticks_ms() / 1000.0

    def host_port(sockaddr):
        """(host, port) of an address recvfrom gave: a raw struct sockaddr here."""
        if isinstance(sockaddr, tuple):
            return sockaddr[0], sockaddr[1]
        port = (sockaddr[2] << 8) | sockaddr[3]
        if len(sockaddr) >= 24:  # sockaddr_in6: family, port, flow info, address
            raw = sockaddr[8:24]
            return ":".join(["%x" % ((raw[i] << 8) | raw[i + 1]) for i in range(0, 16, 2)]), port
        return "%d.%d.%d.%d" % (sockaddr[4], sockaddr[5], sockaddr[6], sockaddr[7]), port

else:
    import time

    def const(value):
        return value

    def ticks_ms():
        return int(time.monotonic() * 1000) & 0x3FFFFFFF

    def ticks_diff(a, b):
        half = 0x20000000
        return ((a - b + half) & 0x3FFFFFFF) - half

    def monotonic():
        """Seconds as a float from an arbitrary origin, never going back."""
        return time.monotonic()

    def host_port(sockaddr):
        """(host, port) of an address recvfrom gave."""
        return sockaddr[0], sockaddr[1]


def urandom(n):
    return os.urandom(n)


def hexdigest(name, data):
    """Lower-case hex digest of ``data`` with hash ``name`` (md5, sha1, sha256)."""
    if isinstance(data, str):
        data = data.encode()
    h = getattr(hashlib, name)(data)
    return binascii.hexlify(h.digest()).decode()


def random_token(nbytes=8):
    """Lower-case hex of ``nbytes`` random bytes: tags, branches, Call-IDs."""
    return binascii.hexlify(os.urandom(nbytes)).decode()
