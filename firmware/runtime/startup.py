"""Starting the phone from files: every mistake is reported before anything runs.

Rule: ``prepare`` reads the configuration and the board, validates both, and
checks that every file the configuration names can be read, collecting all
problems (each with its path) before returning; only a clean result goes on
to open sockets. Exit status 2 means "refused to start".
"""
# cpython-only: reads files with os.path and installs signal handlers

import asyncio
import json
import os
import signal
import sys

from firmware import compat
from firmware.app.config import ConfigError, parse_config
from firmware.runtime.board import BoardError, load_board
from firmware.runtime.handset import attach_board
from firmware.runtime.phone import Phone

FILE_FIELDS = (("tls", "ca_file"), ("tls", "cert_file"), ("tls", "key_file"),
               ("listen", "tls_cert_file"), ("listen", "tls_key_file"))


class StartupError(Exception):
    def __init__(self, problems):
        super().__init__("\n".join(problems))
        self.problems = problems


def load_config(path):
    """Read and validate a configuration file; relative file names in it are
    taken relative to the configuration file's folder."""
    try:
        with open(path, "rb") as handle:
            document = json.loads(handle.read().decode("utf-8"))
    except OSError as error:
        raise StartupError(["%s: cannot read: %s" % (path, error.strerror or error)]) from None
    except ValueError as error:
        raise StartupError(["%s: not valid JSON: %s" % (path, error)]) from None
    try:
        config = parse_config(document)
    except ConfigError as error:
        raise StartupError(["%s: %s" % (path, p) for p in error.problems]) from None
    base = os.path.dirname(os.path.abspath(path))
    problems = []
    for section, field in FILE_FIELDS:
        value = getattr(getattr(config, section), field)
        if value is None:
            continue
        full = value if os.path.isabs(value) else os.path.join(base, value)
        setattr(getattr(config, section), field, full)
        if not os.access(full, os.R_OK):
            problems.append("%s: %s.%s: cannot read file %s" % (path, section, field, value))
    log_file = config.phone.call_log_file
    if log_file:
        # written, not read: it need not exist yet, but its folder must
        full = log_file if os.path.isabs(log_file) else os.path.join(base, log_file)
        config.phone.call_log_file = full
        if not os.path.isdir(os.path.dirname(full)):
            problems.append("%s: phone.call_log_file: no folder for %s" % (path, log_file))
    if problems:
        raise StartupError(problems)
    return config


def prepare(board_path, config_path):
    """(board, config), or StartupError listing the problems of both files."""
    problems = []
    board = config = None
    try:
        board = load_board(board_path)
    except BoardError as error:
        problems.extend("%s: %s" % (board_path, e) for e in error.errors)
    except (OSError, ValueError) as error:
        problems.append("%s: %s" % (board_path, error))
    try:
        config = load_config(config_path)
    except StartupError as error:
        problems.extend(error.problems)
    if problems:
        raise StartupError(problems)
    return board, config


def print_event(start):
    def show(event):
        print("%.3f %s" % (event.time - start, event), flush=True)
    return show


def machine_id(path="/etc/machine-id"):
    """The board's stable identity (systemd's machine id), or None."""
    try:
        with open(path, encoding="ascii") as handle:
            return handle.read().strip() or None
    except OSError:
        return None


def confirm_trial_when_registered(on_event):
    """A new firmware slot booted on trial is good once the phone registers
    (firmware/runtime/slots.py rolls it back otherwise)."""
    confirmed = []

    def wrapped(event):
        if event.name == "REGISTERED" and not confirmed:
            confirmed.append(True)
            from firmware.runtime import slots
            try:
                if slots.confirm_from_environment():
                    print("trial boot confirmed", file=sys.stderr)
            except (OSError, slots.SlotError) as error:
                print("could not confirm the trial boot: %s" % error, file=sys.stderr)
        on_event(event)
    return wrapped


async def run_phone(config, on_event, on_sip=None, board=None):
    """Run the phone until SIGTERM or SIGINT; with ``board``, its handset too
    (keypad, hook, display, LEDs, ringer and sound card: runtime/handset.py)."""
    on_event = confirm_trial_when_registered(on_event)
    phone = Phone(config, on_event=on_event, on_sip=on_sip, device_id=machine_id(),
                  keylog_file=os.environ.get("SSLKEYLOGFILE"))
    if board is not None:
        attach_board(phone, board)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, phone.stop)
    await phone.run()


def main(argv=None):
    import argparse

    parser = argparse.ArgumentParser(prog="python -m firmware",
                                     description="Run the desk phone.")
    parser.add_argument("--board", required=True, help="board file, e.g. boards/sim.json")
    parser.add_argument("--config", required=True, help="configuration JSON file")
    parser.add_argument("--log-sip", action="store_true", help="print every SIP message")
    args = parser.parse_args(argv)
    try:
        board, config = prepare(args.board, args.config)
    except StartupError as error:
        for problem in error.problems:
            print(problem, file=sys.stderr)
        print("refusing to start: %d problem(s)" % len(error.problems), file=sys.stderr)
        return 2
    clock_start = compat.monotonic()
    on_sip = None
    if args.log_sip:
        def on_sip(direction, peer, data):
            print("%s %s\n%s" % (direction, peer, data.decode("utf-8", "replace")), flush=True)
    asyncio.run(run_phone(config, print_event(clock_start), on_sip, board))
    return 0
