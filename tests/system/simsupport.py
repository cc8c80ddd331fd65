"""Helpers for the system tests: simulated phones (tools/phonesim) against a real Kamailio.

Rule: everything runs on 127.0.0.1 with ports chosen free at run time. A test
writes one configuration per phone and a scenario script, runs
``tools/phonesim`` as a subprocess (the phones are the firmware's own runtime
and handset application on simulated boards), and gets back its exit status
and its output, parsed into events per phone. The proxy and the certificates
are made once per session (conftest.py); every account a test uses is
registered and unregistered by its own run.
"""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

from firmware.app.calllog import CallLog
from firmware.runtime import storage
from tools.simphones import phone_config, rtp_bases

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PHONESIM = os.path.join(ROOT, "tools", "phonesim")
SIMDEMO = os.path.join(ROOT, "tools", "simdemo")
BOARD = os.path.join(ROOT, "boards", "sim.json")
PASSWORD = "secret"
ACCOUNTS = ("2001", "2002", "2003", "2009")

_LINE = re.compile(r"^(\d+\.\d{3}) (?:([a-z][a-z0-9_-]*): )?([A-Z][A-Z0-9_]*)(?: (.*))?$")


class Event:
    __slots__ = ("time", "phone", "name", "details")

    def __init__(self, time_, phone, name, details):
        self.time = time_
        self.phone = phone
        self.name = name
        self.details = details

    def field(self, key):
        found = re.search(r'(?:^| )%s=("[^"]*"|\S+)' % re.escape(key), self.details)
        return found.group(1).strip('"') if found else None

    def __repr__(self):
        return "<%.3f %s %s %s>" % (self.time, self.phone, self.name, self.details)


class Result:
    """What one phonesim run printed, and how it ended."""

    def __init__(self, code, output):
        self.code = code
        self.output = output
        self.events = []
        for line in output.splitlines():
            found = _LINE.match(line)
            if found:
                self.events.append(Event(float(found.group(1)), found.group(2),
                                         found.group(3), found.group(4) or ""))

    def of(self, phone, name=None):
        return [e for e in self.events
                if e.phone == phone and (name is None or e.name == name)]

    def __repr__(self):
        return "<phonesim exit %s, %d events>" % (self.code, len(self.events))


class SimSetup:
    """Configurations of named phones (NAME -> account and phone settings) in ``workdir``."""

    def __init__(self, workdir, proxy, certs, phones):
        self.workdir = os.fspath(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.names = list(phones)
        self.paths = {}
        self.call_logs = {}
        for (name, (user, settings)), rtp in zip(phones.items(), rtp_bases(len(phones)),
                                                 strict=True):
            settings = dict(settings)
            settings.setdefault("call_log_file", os.path.join(self.workdir,
                                                              name + "-calls.json"))
            self.call_logs[name] = settings["call_log_file"]
            doc = phone_config(user, PASSWORD, proxy.tls_port, certs.ca, rtp,
                               name.capitalize(), **settings)
            path = os.path.join(self.workdir, name + ".json")
            with open(path, "w") as handle:
                json.dump(doc, handle, indent=2)
            self.paths[name] = path

    def command(self, script_path, extra=()):
        if len(self.names) == 1:
            which = ["--config", self.paths[self.names[0]]]
        else:
            which = ["--phones", ",".join("%s=%s" % (n, self.paths[n]) for n in self.names)]
        return [sys.executable, PHONESIM] + which + ["--script", script_path,
                                                     "--board", BOARD] + list(extra)

    def write_script(self, script, name="script.txt"):
        path = os.path.join(self.workdir, name)
        with open(path, "w") as handle:
            handle.write(script)
        return path

    def run(self, script, timeout=60, extra=()):
        """Run ``script`` to the end; a Result."""
        path = self.write_script(script)
        done = subprocess.run(self.command(path, extra), cwd=ROOT, capture_output=True,
                              text=True, timeout=timeout)
        return Result(done.returncode, done.stdout + done.stderr)

    def start(self, script, extra=(), wrapper=()):
        """Start phonesim on ``script`` and return the Popen (stdout piped, text);
        ``wrapper`` is put before the phonesim program (another python script)."""
        path = self.write_script(script)
        command = self.command(path, extra)
        if wrapper:
            command = [command[0]] + list(wrapper) + command[1:]
        return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)

    def call_log(self, name):
        """The call log of phone ``name`` as stored (read as the phone reads it)."""
        text = storage.read_text(self.call_logs[name], CallLog.from_json)
        return CallLog.from_json(text) if text is not None else None


class OutputReader:
    """Collect a process's output lines in a thread; wait for a line by content."""

    def __init__(self, proc):
        self.proc = proc
        self.lines = []
        self._cond = threading.Condition()
        self._done = False
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        for line in self.proc.stdout:
            with self._cond:
                self.lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self._done = True
            self._cond.notify_all()

    def wait_for(self, marker, timeout):
        """The first line containing ``marker``; AssertionError with the output
        when none comes within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines:
                    if marker in line:
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or self._done:
                    raise AssertionError("%r not seen within %g s:\n%s"
                                         % (marker, timeout, "".join(self.lines)))
                self._cond.wait(min(left, 0.1))

    def text(self):
        self._thread.join(5)
        return "".join(self.lines)


def kill_group(proc, sig=signal.SIGKILL):
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
    return proc.wait(10)
