"""One changed byte anywhere in an image is refused, by verify and by install, before any write.

Every part is tampered with in turn: the manifest, the signature, the data of
every file, every tar header, the padding and the end of the archive; then
truncations, appended bytes, an extra file, a missing file, and a manifest
re-signed by another key.
"""

import os

import pytest

from fwimage_support import (
    board_file,
    build_image,
    flip_byte,
    make_keys,
    members,
    snapshot,
)

from tools.fwimg import ImageError, InstallError, keys
from tools.fwimg import manifest as manifest_mod
from tools.fwimg.build import pack
from tools.fwimg.container import BLOCK, encode_image
from tools.fwimg.install import Installer
from tools.fwimg.verify import load_files, verify_image


@pytest.fixture
def signed(tmp_path):
    key, pub = make_keys(tmp_path / "keys")
    image = build_image(tmp_path, "v1", "1.0.0", private_key_file=key)
    return image, keys.load_public_key(pub), keys.load_private_key(key)


@pytest.fixture
def installed(tmp_path, signed):
    """A board root with version 1.0.0 installed, and a 1.1.0 image to install next."""
    image, public, _ = signed
    root = tmp_path / "root"
    root.mkdir()
    Installer(str(root), public, "sim").install(image)
    key_file = tmp_path / "keys" / "signing.key"
    newer = build_image(tmp_path, "v2", "1.1.0", private_key_file=str(key_file))
    return root, newer, public


def _refused(image, public, match):
    with pytest.raises(ImageError, match=match):
        verify_image(image, public)


def test_the_untouched_image_verifies(signed):
    image, public, _ = signed
    assert verify_image(image, public).version == "1.0.0"


def test_one_byte_changed_in_each_part_is_refused(tmp_path, signed):
    image, public, _ = signed
    entries = members(image)
    assert [name for name, _, _, _ in entries[:2]] == ["manifest.json", "manifest.sig"]
    for index, (name, _, data_at, size) in enumerate(entries):
        for where in sorted({0, size // 2, size - 1}):
            bad = flip_byte(image, str(tmp_path / ("bad-%d-%d.tar" % (index, where))),
                            data_at + where)
            if name in ("manifest.json", "manifest.sig"):
                expected = "signature check failed|manifest"
            else:
                expected = "%s: SHA-256 does not match" % name
            _refused(bad, public, expected)
            os.unlink(bad)


def test_one_byte_changed_in_any_header_or_padding_is_refused(tmp_path, signed):
    image, public, _ = signed
    for _name, header_at, data_at, size in members(image):
        for where in (0, 100, 124, 148, 257, 265, 345):
            bad = flip_byte(image, str(tmp_path / "bad.tar"), header_at + where)
            _refused(bad, public, "header|not a firmware image")
        if size % BLOCK:
            bad = flip_byte(image, str(tmp_path / "bad.tar"), data_at + size)
            _refused(bad, public, "padding")
    total = os.path.getsize(image)
    for offset in (total - 1, total - BLOCK - 1, total - 2 * BLOCK):
        bad = flip_byte(image, str(tmp_path / "bad.tar"), offset)
        _refused(bad, public, "altered|header|damaged")


def test_truncated_images_are_refused(tmp_path, signed):
    image, public, _ = signed
    data = open(image, "rb").read()
    cuts = [0, 1, 511, 512, 700, len(data) // 3, len(data) // 2, len(data) - 10241,
            len(data) - 1024, len(data) - 1]
    for _name, header_at, data_at, size in members(image):
        cuts += [header_at + 1, data_at + size // 2]
    for cut in sorted(set(c for c in cuts if 0 <= c < len(data))):
        short = tmp_path / "short.tar"
        short.write_bytes(data[:cut])
        message = "empty" if cut == 0 else "truncated|not a firmware image"
        _refused(str(short), public, message)


def test_appended_bytes_are_refused(tmp_path, signed):
    image, public, _ = signed
    longer = tmp_path / "longer.tar"
    longer.write_bytes(open(image, "rb").read() + b"\0" * 10240 + b"x")
    _refused(str(longer), public, "extra bytes")


def test_an_extra_file_is_refused(tmp_path, signed):
    image, public, private = signed
    manifest, files = load_files(image)
    # keep the signed manifest and its signature, add an unlisted file at the end
    signed_manifest = manifest_mod.encode(manifest)
    assert signed_manifest in open(image, "rb").read()
    extra = encode_image([("manifest.json", signed_manifest, 0o644),
                          ("manifest.sig", keys.sign(private, signed_manifest), 0o644)]
                         + files + [("firmware/evil.py", b"import os\n", 0o644)])
    bad = tmp_path / "extra.tar"
    bad.write_bytes(extra)
    _refused(str(bad), public, "firmware/evil.py, which its manifest does not list")


def test_a_missing_file_is_refused(tmp_path, signed):
    image, public, private = signed
    manifest, files = load_files(image)
    signed_manifest = manifest_mod.encode(manifest)
    for drop in (0, len(files) - 1):
        kept = files[:drop] + files[drop + 1:]
        data = encode_image([("manifest.json", signed_manifest, 0o644),
                             ("manifest.sig", keys.sign(private, signed_manifest), 0o644)]
                            + kept)
        bad = tmp_path / "missing.tar"
        bad.write_bytes(data)
        _refused(str(bad), public, "%s is missing" % files[drop][0])


def test_a_manifest_resigned_by_another_key_is_refused(tmp_path, signed):
    image, public, _ = signed
    other = keys.load_private_key(make_keys(tmp_path / "other")[0])
    _, files = load_files(image)
    files = [(p, b"print('evil')\n" if p == "firmware/core/adder.py" else d, m)
             for p, d, m in files]
    forged = manifest_mod.make_manifest("sim", "1.0.0", files, keys.key_id(other.public_key()))
    bad = tmp_path / "forged.tar"
    bad.write_bytes(pack(forged, files, other))
    _refused(str(bad), public, "names signing key %s but the trusted key is %s"
             % (keys.key_id(other.public_key()), keys.key_id(public)))
    # the same forgery claiming the trusted key's id is refused as altered
    forged["key_id"] = keys.key_id(public)
    bad.write_bytes(pack(forged, files, other))
    _refused(str(bad), public, "altered after signing")


def test_install_of_any_damaged_image_leaves_the_board_untouched(tmp_path, installed):
    root, newer, public = installed
    before = snapshot(root)
    entries = members(newer)
    size = os.path.getsize(newer)
    damaged = []
    for index, (_name, header_at, data_at, length) in enumerate(entries):
        damaged.append(flip_byte(newer, str(tmp_path / ("d%d.tar" % index)),
                                 data_at + length // 2))
        damaged.append(flip_byte(newer, str(tmp_path / ("h%d.tar" % index)), header_at + 3))
    short = tmp_path / "short.tar"
    short.write_bytes(open(newer, "rb").read()[:size // 2])
    damaged.append(str(short))
    for bad in damaged:
        with pytest.raises((ImageError, InstallError)):
            Installer(str(root), public).install(bad)
        assert snapshot(root) == before, bad
    Installer(str(root), public).install(newer)
    assert snapshot(root) != before


def test_wrong_key_and_wrong_board_leave_the_board_untouched(tmp_path, installed):
    root, newer, public = installed
    before = snapshot(root)
    other_key, other_pub = make_keys(tmp_path / "other")
    foreign = build_image(tmp_path, "foreign", "1.2.0", private_key_file=other_key)
    with pytest.raises(InstallError, match="trusts signing key"):
        Installer(str(root), keys.load_public_key(other_pub)).install(foreign)
    with pytest.raises(ImageError, match="trusted key is"):
        Installer(str(root)).install(foreign)
    other_board = build_image(tmp_path, "rpi", "1.2.0",
                              private_key_file=str(tmp_path / "keys" / "signing.key"),
                              board_path=board_file(tmp_path / "b-rpi", "rpi4-deskphone"))
    with pytest.raises(InstallError, match="board mismatch.*rpi4-deskphone.*'sim'"):
        Installer(str(root), public).install(other_board)
    assert snapshot(root) == before
