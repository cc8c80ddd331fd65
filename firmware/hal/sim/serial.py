"""An in-memory serial cable: two ``Uart`` ends joined back to back.

Rule: bytes written on one end arrive, unchanged and in order, on the other end,
but only when both ends run at the same speed; at different speeds the receiver
sees framing errors and the bytes are lost, as on a real line. Pure Python, so
the simulated display works under MicroPython too.
"""

from firmware.hal.api import Uart


class SimUart(Uart):
    """One end of a loopback. ``bytes_written`` counts what this end sent.

    A simulated device may set ``listener(end, data)`` to take bytes as they
    arrive instead of leaving them for ``read``.
    """

    __slots__ = (
        "baudrate", "peer", "listener", "bytes_written", "framing_errors", "closed", "_rx",
    )

    def __init__(self, baudrate=9600):
        self.baudrate = baudrate
        self.peer = None
        self.listener = None
        self.bytes_written = 0
        self.framing_errors = 0
        self.closed = False
        self._rx = bytearray()

    def write(self, data):
        if self.closed:
            raise OSError("serial port closed")
        data = bytes(data)
        self.bytes_written += len(data)
        peer = self.peer
        if peer is not None and not peer.closed:
            peer._arrive(data, self.baudrate)
        return len(data)

    def read(self, n=-1):
        rx = self._rx
        if n < 0 or n >= len(rx):
            self._rx = bytearray()
            return bytes(rx)
        self._rx = rx[n:]
        return bytes(rx[:n])

    def any(self):
        return len(self._rx)

    def close(self):
        self.closed = True

    def _arrive(self, data, baudrate):
        if baudrate != self.baudrate:
            self.framing_errors += len(data)
            return
        if self.listener is not None:
            # a device that reacts to each byte as it comes off the wire
            self.listener(self, data)
            return
        self._rx.extend(data)


def loopback(baudrate_a=9600, baudrate_b=None):
    """Two joined ends; the second defaults to the first one's speed."""
    a = SimUart(baudrate_a)
    b = SimUart(baudrate_a if baudrate_b is None else baudrate_b)
    a.peer = b
    b.peer = a
    return a, b
