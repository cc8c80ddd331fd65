"""Ed25519 signing keys: generate, load from a file or the environment, sign, check.

Rule: private keys are PKCS#8 PEM (optionally passphrase-encrypted), public
keys SubjectPublicKeyInfo PEM. A key given where the other half is expected is
refused by name, so a private key is never copied where a public one belongs.
A key is named by its id: the first 16 hex digits of SHA-256 of its 32 raw bytes.
"""

import getpass
import hashlib
import os
import re
import sys

from . import KeyProblem

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )
except ImportError:  # a phone's bare python3: say so when a key is needed, not with a trace
    serialization = None

ENV_PRIVATE = "FWIMAGE_SIGNING_KEY"
ENV_PUBLIC = "FWIMAGE_PUBLIC_KEY"
ENV_PASSPHRASE = "FWIMAGE_KEY_PASSPHRASE"
PRIVATE_NAME = "signing.key"
PUBLIC_NAME = "signing.pub"
# Any PEM private key block (PKCS#8, encrypted, RSA, EC, OpenSSH); the pattern
# does not match its own source text, so this module can be packed.
PRIVATE_PEM = re.compile(rb"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----")


def _need_cryptography():
    if serialization is None:
        raise KeyProblem("keys need the cryptography package (pip install cryptography, or "
                         "apt install python3-cryptography)")


def key_id(public_key):
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_pem(public_key):
    return public_key.public_bytes(serialization.Encoding.PEM,
                                   serialization.PublicFormat.SubjectPublicKeyInfo)


def private_pem(private_key, passphrase=None):
    if passphrase:
        encryption = serialization.BestAvailableEncryption(passphrase.encode("utf-8"))
    else:
        encryption = serialization.NoEncryption()
    return private_key.private_bytes(serialization.Encoding.PEM,
                                     serialization.PrivateFormat.PKCS8, encryption)


def same_key(a, b):
    return key_id(a) == key_id(b)


def _write_new(path, data, mode, force):
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    try:
        fd = os.open(path, flags, mode)
    except FileExistsError:
        raise KeyProblem("%s exists already; refusing to overwrite a key (use --force)"
                         % path) from None
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(path, mode)


def generate_keypair(out_dir, force=False, passphrase=None):
    """Write ``signing.key`` (mode 0600) and ``signing.pub`` into ``out_dir``; return both paths."""
    _need_cryptography()
    os.makedirs(out_dir, exist_ok=True)
    private_key = Ed25519PrivateKey.generate()
    key_path = os.path.join(out_dir, PRIVATE_NAME)
    pub_path = os.path.join(out_dir, PUBLIC_NAME)
    if not force:
        for path in (key_path, pub_path):
            if os.path.exists(path):
                raise KeyProblem("%s exists already; refusing to overwrite a key (use --force)"
                                 % path)
    _write_new(key_path, private_pem(private_key, passphrase), 0o600, force)
    _write_new(pub_path, public_pem(private_key.public_key()), 0o644, force)
    return key_path, pub_path


def _source_text(path, env_name, environ, what):
    """PEM bytes and a label for messages, from ``path`` or else the environment."""
    if path:
        try:
            with open(path, "rb") as fh:
                return fh.read(), path
        except OSError as exc:
            raise KeyProblem("cannot read the %s %s: %s" % (what, path, exc.strerror)) from None
    value = environ.get(env_name)
    if value:
        return value.encode("utf-8"), "$" + env_name
    raise KeyProblem("no %s given: pass --key FILE or set %s to the PEM text" % (what, env_name))


def _passphrase(label, environ):
    value = environ.get(ENV_PASSPHRASE)
    if value is not None:
        return value.encode("utf-8")
    if sys.stdin.isatty():
        return getpass.getpass("passphrase for %s: " % label).encode("utf-8")
    raise KeyProblem("%s is encrypted: set %s or run on a terminal" % (label, ENV_PASSPHRASE))


def load_private_key(path=None, environ=None):
    """The Ed25519 private key from ``path``, or from $FWIMAGE_SIGNING_KEY."""
    _need_cryptography()
    environ = os.environ if environ is None else environ
    data, label = _source_text(path, ENV_PRIVATE, environ, "private signing key")
    if not PRIVATE_PEM.search(data):
        if b"PUBLIC KEY-----" in data:
            raise KeyProblem("%s is a public key; signing needs the private key" % label)
        raise KeyProblem("%s is not a PEM private key" % label)
    password = None
    if b"ENCRYPTED PRIVATE KEY" in data:
        password = _passphrase(label, environ)
    try:
        key = serialization.load_pem_private_key(data, password=password)
    except (ValueError, TypeError) as exc:
        raise KeyProblem("%s: cannot load the private key (%s)" % (label, exc)) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyProblem("%s is not an Ed25519 key" % label)
    return key


def load_public_key(path=None, environ=None):
    """The Ed25519 public key from ``path``, or from $FWIMAGE_PUBLIC_KEY."""
    environ = os.environ if environ is None else environ
    data, label = _source_text(path, ENV_PUBLIC, environ, "public key")
    return public_key_from_pem(data, label)


def public_key_from_pem(data, label):
    _need_cryptography()
    if PRIVATE_PEM.search(data):
        raise KeyProblem("%s is a private key; give the public key (signing.pub) instead, and "
                         "keep the private key off phones and out of images" % label)
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise KeyProblem("%s: cannot load the public key (%s)" % (label, exc)) from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyProblem("%s is not an Ed25519 public key" % label)
    return key


def sign(private_key, data):
    return private_key.sign(data)


def signature_valid(public_key, data, signature):
    try:
        public_key.verify(signature, data)
    except InvalidSignature:
        return False
    return True


def contains_private_key(data):
    return PRIVATE_PEM.search(data) is not None


def raw_private_bytes(private_key):
    return private_key.private_bytes(serialization.Encoding.Raw,
                                     serialization.PrivateFormat.Raw,
                                     serialization.NoEncryption())
