"""The test PKI that tools/certs writes, found by name.

Rule: a directory missing any of the expected files is refused at once.
"""

import os
import subprocess
import sys

from tools.peers.process import TOOLS_DIR, PeerError


class CertSet:
    """The files tools/certs writes, by name: certs.pem('proxy'), certs.key_der('phone')."""

    NAMES = ("ca", "other-ca", "proxy", "phone", "client", "untrusted", "wronghost", "expired")

    def __init__(self, directory):
        self.dir = os.path.abspath(os.fspath(directory))
        missing = [n for n in self.NAMES if not os.path.exists(self.pem(n))]
        if missing:
            raise PeerError("certificate directory %s lacks %s (make it with tools/certs)"
                            % (self.dir, ", ".join(missing)))

    def pem(self, name):
        return os.path.join(self.dir, name + ".crt.pem")

    def key(self, name):
        return os.path.join(self.dir, name + ".key.pem")

    def der(self, name):
        return os.path.join(self.dir, name + ".crt.der")

    def key_der(self, name):
        return os.path.join(self.dir, name + ".key.der")

    @property
    def ca(self):
        return self.pem("ca")


def make_certs(out_dir, hostname="proxy.test"):
    """Run tools/certs into out_dir and return the CertSet."""
    script = os.path.join(TOOLS_DIR, "certs")
    subprocess.run([sys.executable, script, "--out", os.fspath(out_dir), "--hostname", hostname],
                   check=True, capture_output=True)
    return CertSet(out_dir)
