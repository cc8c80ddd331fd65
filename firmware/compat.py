"""The one place where CPython and MicroPython differ.

Rule: no other module in firmware/ looks at ``sys.implementation``. Anything
that needs a clock, random bytes, a hash in hex or ``const`` imports it from
here, so the rest of the firmware reads the same on both interpreters.
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
