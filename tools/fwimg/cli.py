"""The ``tools/fwimage`` command line: keygen, build, sign, verify, show, install.

Rule: each subcommand prints what it did on standard output (``build`` ends
with the path of the image, alone on its line), refusals go to standard error
as ``fwimage: ...: reason`` with exit status 1, and usage errors exit 2.
Keys come from ``--key FILE`` or else from the environment
(FWIMAGE_SIGNING_KEY / FWIMAGE_PUBLIC_KEY hold the PEM text).
"""

import argparse
import json
import os
import sys

from . import FwImageError, keys

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _err(message):
    sys.stderr.write("fwimage: %s\n" % message)


def cmd_keygen(args):
    passphrase = None
    if args.encrypt:
        passphrase = os.environ.get(keys.ENV_PASSPHRASE)
        if not passphrase:
            import getpass
            passphrase = getpass.getpass("passphrase for the new signing key: ")
            if passphrase != getpass.getpass("again: "):
                raise FwImageError("the passphrases differ; no key written")
    key_path, pub_path = keys.generate_keypair(args.out, args.force, passphrase)
    public = keys.load_public_key(pub_path)
    print("key id %s" % keys.key_id(public))
    print("private key (keep secret, never on a phone): %s" % key_path)
    print("public key (give to phones and to verify): %s" % pub_path)
    return 0


def _signing_key(path):
    if path or os.environ.get(keys.ENV_PRIVATE):
        return keys.load_private_key(path)
    return None


def cmd_build(args):
    from .build import build_image
    private_key = _signing_key(args.key)
    out_dir = args.out_dir or os.path.join(args.source, "dist")
    path, manifest = build_image(args.source, args.board, out_dir, private_key,
                                 args.precompile)
    size = os.path.getsize(path)
    print("board %s, version %s, %d files, %d bytes%s" % (
        manifest["board"], manifest["version"], len(manifest["files"]), size,
        ", precompiled" if manifest["precompiled"] else ""))
    if private_key is None:
        _err("warning: the image is NOT signed; sign it with: fwimage sign --key KEY %s" % path)
    else:
        print("signed by key %s" % manifest["key_id"])
    print(path)
    return 0


def cmd_sign(args):
    from .build import sign_image
    private_key = keys.load_private_key(args.key)
    path = sign_image(args.image, private_key, args.out)
    print("signed by key %s" % keys.key_id(private_key.public_key()))
    print(path)
    return 0


def cmd_verify(args):
    from .verify import verify_image
    public_key = keys.load_public_key(args.key)
    status = 0
    for path in args.images:
        try:
            image = verify_image(path, public_key)
        except FwImageError as exc:
            _err("%s: REFUSED: %s" % (path, exc))
            status = 1
            continue
        print("%s: OK: deskphone %s for board %s, %d files, signed by key %s" % (
            path, image.version, image.board, len(image.manifest["files"]), image.signer))
    return status


def cmd_show(args):
    from .verify import read_manifest
    manifest, raw, signature = read_manifest(args.image)
    if args.json:
        sys.stdout.write(raw.decode("utf-8"))
        return 0
    print("product    %s" % manifest["product"])
    print("board      %s" % manifest["board"])
    print("version    %s" % manifest["version"])
    print("format     %d" % manifest["format"])
    print("signed     %s" % (("by key %s (not checked here: use verify)" % manifest["key_id"])
                             if signature else "no"))
    print("compiled   %s" % ("mpy-cross" if manifest["precompiled"] else "source"))
    print("files      %d, %d bytes" % (len(manifest["files"]), manifest["size"]))
    for entry in manifest["files"]:
        print("  %s  %o %9d  %s" % (entry["sha256"], entry["mode"], entry["size"],
                                    entry["path"]))
    return 0


def _install_flags(args):
    flags = []
    if args.board:
        flags += ["--board", args.board]
    if args.allow_downgrade:
        flags.append("--allow-downgrade")
    if args.replace_trial:
        flags.append("--replace-trial")
    if args.trial_seconds is not None:
        flags += ["--trial-seconds", str(args.trial_seconds)]
    if args.trial_boots is not None:
        flags += ["--trial-boots", str(args.trial_boots)]
    return flags


def cmd_install(args):
    given = None
    if args.key or os.environ.get(keys.ENV_PUBLIC):
        given = keys.load_public_key(args.key)
    if args.ssh:
        from .remote import install_over_ssh
        image, status = install_over_ssh(
            args.image, args.ssh, given, args.ssh_option, args.remote_root, args.remote_python,
            args.remote_tmp, _install_flags(args), args.restart, args.sudo)
        if status:
            _err("%s: the phone refused or failed the install (ssh exit status %d)"
                 % (args.ssh, status))
        return 1 if status else 0
    from .install import Installer
    installer = Installer(args.root, given, args.board, args.allow_downgrade,
                          args.replace_trial, args.trial_seconds, args.trial_boots,
                          not args.no_system_files)
    result = installer.install(args.image)
    print("installed deskphone %s (board %s) into slot %s under %s" % (
        result["version"], result["board"], result["slot"], result["root"]))
    if result["trusted_new_key"]:
        print("the target now trusts signing key %s" % result["key_id"])
    if result.get("config_created"):
        print("wrote the default configuration to /%s: edit it before use"
              % "etc/deskphone/config.json")
    if result["trial"]:
        print("it boots on trial at the next start: unless it registers (or passes its health "
              "check) within %s s, the start after that returns to version %s"
              % (result["trial_seconds"], result["previous_version"]))
    if result.get("unit_changed") and os.path.abspath(args.root) == "/":
        print("the systemd unit changed: run systemctl daemon-reload")
    return 0


def cmd_confirm(args):
    from firmware.runtime import slots
    if slots.confirm(args.root):
        print("trial confirmed")
    else:
        print("no trial pending")
    return 0


def cmd_status(args):
    from firmware.runtime import slots
    state = slots.read_state(args.root)
    if state is None:
        print("no firmware installed under %s" % slots.base_dir(args.root))
        return 1
    print(json.dumps(state, sort_keys=True, indent=1))
    return 0


def _positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def make_parser():
    parser = argparse.ArgumentParser(
        prog="fwimage", description="Build, sign, verify and install desk-phone firmware "
        "images. Keys: --key FILE, or $%s / $%s with the PEM text."
        % (keys.ENV_PRIVATE, keys.ENV_PUBLIC))
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("keygen", help="make an Ed25519 key pair: DIR/signing.key, signing.pub")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--force", action="store_true", help="overwrite existing key files")
    p.add_argument("--encrypt", action="store_true",
                   help="protect the private key with a passphrase ($%s or prompt)"
                   % keys.ENV_PASSPHRASE)
    p.set_defaults(func=cmd_keygen)

    p = sub.add_parser("build", help="build (and sign) the image of a board")
    p.add_argument("--board", required=True, metavar="BOARD_FILE", help="boards/NAME.json")
    p.add_argument("--key", metavar="PRIVATE_KEY_FILE",
                   help="sign with this key (default $%s; unsigned if neither)"
                   % keys.ENV_PRIVATE)
    p.add_argument("--out-dir", metavar="DIR", help="where to write (default SOURCE/dist)")
    p.add_argument("--source", default=PROJECT_ROOT, metavar="DIR",
                   help="project tree to build from (default: this one)")
    p.add_argument("--precompile", action="store_true",
                   help="ship the MicroPython-clean modules as .mpy (for a MicroPython runner)")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("sign", help="sign (or re-sign) an image")
    p.add_argument("--key", metavar="PRIVATE_KEY_FILE")
    p.add_argument("--out", metavar="FILE", help="write here instead of in place")
    p.add_argument("image")
    p.set_defaults(func=cmd_sign)

    p = sub.add_parser("verify", help="check images against a public key (exit 0 if intact)")
    p.add_argument("--key", metavar="PUBLIC_KEY_FILE")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("show", help="print an image's manifest (not a verification)")
    p.add_argument("--json", action="store_true", help="the exact signed manifest bytes")
    p.add_argument("image")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("install", help="verify, then install into A/B slots")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--root", metavar="DIR",
                       help="target root: / on the phone, a mounted card, or a directory")
    where.add_argument("--ssh", metavar="USER@HOST", help="install on a running phone")
    p.add_argument("--key", metavar="PUBLIC_KEY_FILE",
                   help="key to check against; a target trusts the first one it was given")
    p.add_argument("--board", metavar="NAME", help="the target's board (required the first "
                   "time; checked against the image every time)")
    p.add_argument("--allow-downgrade", action="store_true")
    p.add_argument("--replace-trial", action="store_true",
                   help="overwrite a slot that is still on trial")
    p.add_argument("--trial-seconds", type=_positive, metavar="S",
                   help="time a new slot has to confirm (default 300)")
    p.add_argument("--trial-boots", type=_positive, metavar="N",
                   help="starts a new slot gets before rollback (default 1)")
    p.add_argument("--no-system-files", action="store_true",
                   help="only the slots: no /etc config or systemd unit")
    p.add_argument("--ssh-option", action="append", default=[], metavar="OPTION",
                   help="passed to ssh as -o OPTION (repeatable)")
    p.add_argument("--remote-root", default="/", metavar="DIR")
    p.add_argument("--remote-python", metavar="PATH",
                   help="interpreter on the phone (default: its venv, else python3)")
    p.add_argument("--remote-tmp", default="/var/tmp", metavar="DIR")
    p.add_argument("--restart", action="store_true",
                   help="restart the phone service after an SSH install")
    p.add_argument("--sudo", action="store_true",
                   help="run the installer (and the restart) on the phone with sudo")
    p.add_argument("image")
    p.set_defaults(func=cmd_install)

    p = sub.add_parser("confirm", help="mark a trial slot good (health scripts, by hand)")
    p.add_argument("--root", required=True, metavar="DIR")
    p.set_defaults(func=cmd_confirm)

    p = sub.add_parser("status", help="print the slot state of a target")
    p.add_argument("--root", required=True, metavar="DIR")
    p.set_defaults(func=cmd_status)
    return parser


def main(argv=None):
    args = make_parser().parse_args(argv)
    try:
        return args.func(args)
    except FwImageError as exc:
        label = getattr(args, "image", None) or args.command
        _err("%s: REFUSED: %s" % (label, exc) if args.command in ("install", "sign", "show")
             else "%s: %s" % (args.command, exc))
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # output piped into head and the like: not an error of the image
        sys.stderr.close()
        return 0
