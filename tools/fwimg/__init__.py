"""Firmware images for the desk phone: build, sign, verify and install them.

Rule: nothing is written to a target until the whole image has been checked
(signature over the manifest first, then every file's SHA-256 and size, then
that the image holds exactly the manifest's files and nothing else), and every
refusal is an ``FwImageError`` whose message says what is wrong in words a
user can act on.

Modules, one job each:
  container  the image file: a canonical POSIX tar whose every byte is checked
  keys       Ed25519 keys from files or the environment; sign and check
  manifest   the signed JSON manifest: build, encode, parse, compare versions
  verify     read an image: signature first, then every file, before any write
  build      collect the sources of a board image, write and sign it
  install    verified install into A/B slots under a root directory
  remote     the same install on a running phone over SSH
  cli        the ``tools/fwimage`` command line
"""


class FwImageError(Exception):
    """A refusal or failure with a message meant for the user."""


class ImageError(FwImageError):
    """The image is damaged, altered, unsigned or not made for this installer."""


class KeyProblem(FwImageError):
    """A key is missing, unreadable, of the wrong type or the wrong half of a pair."""


class InstallError(FwImageError):
    """The target refused the image (board, version, space, state)."""
