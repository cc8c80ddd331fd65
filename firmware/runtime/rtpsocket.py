"""A call's RTP or RTCP socket: UDP, non-blocking, read by polling.

Rule: the media path owns the socket and polls it (MicroPython has no
datagram endpoints); sending never raises, it counts what failed. The peer's
address is resolved once and kept, with a few others (a re-INVITE, symmetric
RTP), so the usual send is one ``sendto`` with no lookup.
"""

import socket

from firmware import compat
from firmware.runtime import net

MAX_DATAGRAM = 2048
MAX_TARGETS = 4         # resolved addresses kept per socket


class RtpSocket(net.UdpEndpoint):
    """A UdpEndpoint read by polling, with the peer's address resolved once."""

    def __init__(self, address, port):
        net.UdpEndpoint.__init__(self, address, port)
        self._targets = []  # [(host, port), sockaddr]
        self._last = None   # the (host, port) sent to last and its sockaddr: the usual one
        self._last_target = None
        self.send_errors = 0
        # what select.poll reports this socket by: the object on MicroPython,
        # the descriptor on CPython
        self.poll_key = self.sock if compat.MICROPYTHON else self.sock.fileno()

    def send(self, data, address):
        try:
            if address == self._last:
                self.sock.sendto(data, self._last_target)
                return True
            target = None
            for known, sockaddr in self._targets:
                if known == address:
                    target = sockaddr
                    break
            if target is None:
                target = socket.getaddrinfo(address[0], address[1])[0][-1]
                self._targets.append((address, target))
                if len(self._targets) > MAX_TARGETS:
                    self._targets.pop(0)
            self._last = address
            self._last_target = target
            self.sock.sendto(data, target)
            return True
        except OSError:
            self.send_errors += 1
            return False

    def receive_one(self):
        """One waiting datagram, or None (nothing waiting, or a socket error)."""
        try:
            return self.sock.recv(MAX_DATAGRAM)
        except OSError:  # EAGAIN after all, or an error the socket reported
            return None

    def receive_from(self):
        """One waiting datagram and the (host, port) it came from, or (None, None)."""
        try:
            data, sockaddr = self.sock.recvfrom(MAX_DATAGRAM)
        except OSError:
            return None, None
        return data, compat.host_port(sockaddr)
