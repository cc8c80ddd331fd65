"""Install over SSH onto a running phone, with the phone's own verifying installer.

Rule: the phone decides. The image is checked here first (to fail fast and
not ship a broken file), then streamed over one ``ssh`` connection into a
temporary file on the phone, and the installer of the firmware the phone
already runs - code the phone verified when it installed it - checks the
image against the key the phone trusts and installs it. The new image's own
code never judges itself. Nothing but the ``ssh`` command is run locally.
"""

import os
import shlex
import subprocess

from . import InstallError
from .verify import verify_image

INSTALLER_REL = "opt/deskphone/current/tools/fwimage"
VENV_PYTHON_REL = "opt/deskphone/venv/bin/python"
EXIT_NO_INSTALLER = 69


def _under(root, rel):
    return root.rstrip("/") + "/" + rel


def remote_script(image_name, remote_root="/", remote_python=None, remote_tmp="/var/tmp",
                  install_args=(), restart=False, sudo=False):
    """The shell script run on the phone; it reads the image from standard input."""
    q = shlex.quote
    become = "sudo " if sudo else ""
    installer = _under(remote_root, INSTALLER_REL)
    if remote_python:
        choose_python = "py=%s" % q(remote_python)
    else:
        choose_python = 'py=%s; [ -x "$py" ] || py=python3' % q(_under(remote_root,
                                                                        VENV_PYTHON_REL))
    lines = [
        "set -e",
        "installer=%s" % q(installer),
        'if [ ! -f "$installer" ]; then',
        '  echo "fwimage: error: no installed firmware with an installer at $installer;'
        ' prepare the card with: fwimage install --root" >&2',
        "  exit %d" % EXIT_NO_INSTALLER,
        "fi",
        "tmp=$(mktemp %s)" % q(remote_tmp.rstrip("/") + "/deskphone-image.XXXXXX"),
        "trap 'rm -f \"$tmp\"' EXIT",
        'cat > "$tmp"',
        choose_python,
        '%s"$py" "$installer" install --root %s %s"$tmp"' % (
            become, q(remote_root), "".join(q(arg) + " " for arg in install_args)),
    ]
    if restart:
        lines.append(become + "systemctl daemon-reload")
        lines.append(become + "systemctl restart deskphone.service")
    lines.append("echo %s" % q("fwimage: %s installed on the phone" % image_name))
    return "\n".join(lines) + "\n"


def ssh_command(destination, script, ssh_options=()):
    """argv for ``ssh``: options, destination, and the script as one remote command."""
    if destination.startswith("-"):
        raise InstallError("bad SSH destination %r" % destination)
    argv = ["ssh"]
    for option in ssh_options:
        argv.extend(["-o", option])
    argv.append(destination)
    argv.append("sh -c " + shlex.quote(script))
    return argv


def install_over_ssh(image_path, destination, public_key=None, ssh_options=(), remote_root="/",
                     remote_python=None, remote_tmp="/var/tmp", install_args=(),
                     restart=False, sudo=False, run=subprocess.run):
    """Check the image locally, then install it on the phone; return the ssh exit status."""
    image = verify_image(image_path, public_key, require_signature=public_key is not None)
    script = remote_script(os.path.basename(image_path), remote_root, remote_python,
                           remote_tmp, install_args, restart, sudo)
    argv = ssh_command(destination, script, ssh_options)
    with open(image_path, "rb") as fh:
        proc = run(argv, stdin=fh)
    return image, proc.returncode
