"""tools/layercheck and tools/mpycompile on small firmware trees written per test."""

import importlib.util
import re
import subprocess
import sys
import textwrap
from importlib.machinery import SourceFileLoader
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERCHECK = ROOT / "tools" / "layercheck"
MPYCOMPILE = ROOT / "tools" / "mpycompile"
LINE_RE = re.compile(r"^(?P<path>[^:]+):(?P<line>\d+): (?P<rule>[a-z-]+): (?P<msg>.+)$")

PACKAGES = ("", "core", "app", "drivers", "hal", "hal/sim", "hal/rpi", "runtime")


def load(path, name):
    loader = SourceFileLoader(name, str(path))
    spec = importlib.util.spec_from_loader(name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


layercheck = load(LAYERCHECK, "layercheck")


def make_tree(root, files):
    """A firmware package under root with the layer packages and the given files."""
    for package in PACKAGES:
        folder = root / "firmware" / package
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "__init__.py").write_text('"""Package."""\n')
    (root / "firmware" / "compat.py").write_text('"""Compat."""\n\nMICROPYTHON = False\n')
    (root / "firmware" / "hal" / "api.py").write_text('"""Contracts."""\n')
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    return root / "firmware"


def findings(tmp_path, rel, text):
    """[(line, rule)] that layercheck reports for one file of a fresh tree."""
    make_tree(tmp_path, {rel: text})
    path = tmp_path / rel
    module, root = layercheck.module_name(path)
    return [(line, rule) for line, rule, _ in layercheck.check_file(path, module, root)]


def messages(tmp_path, rel, text):
    make_tree(tmp_path, {rel: text})
    path = tmp_path / rel
    module, root = layercheck.module_name(path)
    return [message for _, _, message in layercheck.check_file(path, module, root)]


def run(tool, *args, cwd):
    return subprocess.run([sys.executable, str(tool), *map(str, args)], cwd=cwd,
                          capture_output=True, text=True)


# -- a. layer import rules -----------------------------------------------------

LAYER_CASES = [
    ("firmware/core/sip.py", "from firmware.app import calls"),
    ("firmware/core/sip.py", "import firmware.drivers.keypad"),
    ("firmware/core/sip.py", "from firmware.runtime import loop"),
    ("firmware/core/sip.py", "from ..app import calls"),
    ("firmware/app/phone.py", "from firmware.drivers import keypad"),
    ("firmware/app/phone.py", "import firmware.hal.api"),
    ("firmware/drivers/keypad.py", "from firmware.core import sip"),
    ("firmware/drivers/keypad.py", "from firmware.hal import sim"),
    ("firmware/drivers/keypad.py", "import firmware.hal.rpi.gpio"),
    ("firmware/drivers/keypad.py", "from firmware.app import phone"),
    ("firmware/hal/api.py", "from firmware.core import sip"),
    ("firmware/hal/sim/gpio.py", "from firmware.hal.rpi import gpio"),
    ("firmware/hal/sim/gpio.py", "from firmware.drivers import keypad"),
    ("firmware/hal/rpi/gpio.py", "from firmware.drivers import keypad"),
    ("firmware/hal/rpi/gpio.py", "import requests"),
    ("firmware/compat.py", "from firmware.core import sip"),
    ("firmware/runtime/board.py", "from firmware.hal.sim import gpio"),
    ("firmware/runtime/board.py", "from firmware.hal import rpi"),
    ("firmware/runtime/board.py", "import firmware.hal.sim"),
    ("firmware/runtime/board.py", "backend = __import__('firmware.hal.sim')"),
    ("firmware/runtime/board.py", "import tools.fwimage"),
    ("firmware/core/sip.py", "from tests.unit import helpers"),
    ("firmware/core/sip.py", "mod = __import__(name)"),
    ("firmware/core/sip.py", "import micropython"),
    ("firmware/drivers/keypad.py", "import requests"),
]


@pytest.mark.parametrize("rel,line", LAYER_CASES)
def test_layer_rule_fires_on_the_import_line(tmp_path, rel, line):
    text = '"""Doc."""\n\nname = "x"\n' + line + "\n"
    assert (4, "layer") in findings(tmp_path, rel, text)


def test_module_outside_any_layer_is_reported(tmp_path):
    assert findings(tmp_path, "firmware/misc.py", '"""Doc."""\n') == [(1, "layer")]


def test_allowed_imports_pass(tmp_path):
    files = {
        "firmware/core/sip.py": """
            \"\"\"Core.\"\"\"
            import binascii
            import re
            import struct
            from firmware.compat import const, hexdigest
            from firmware.core import sdp
            from . import sdp as again
            from .sdp import parse
        """,
        "firmware/core/sdp.py": '"""Sdp."""\n\ndef parse(x):\n    return x\n',
        "firmware/app/phone.py": """
            \"\"\"App.\"\"\"
            from firmware.app import dialplan
            from firmware.core.sip import const
            import firmware.compat
        """,
        "firmware/app/dialplan.py": '"""Dial plan."""\n',
        "firmware/drivers/keypad.py": """
            \"\"\"Keypad.\"\"\"
            import asyncio
            from firmware.hal import api
            from firmware.hal.api import Pin
            from firmware.drivers import leds
            from firmware.compat import ticks_ms, ticks_diff
        """,
        "firmware/drivers/leds.py": '"""Leds."""\n',
        "firmware/hal/sim/gpio.py": """
            \"\"\"Sim.\"\"\"
            import struct
            from firmware.hal.api import Pin
            from firmware.hal.sim import wiring
            try:
                import wave
            except ImportError:
                wave = None
        """,
        "firmware/hal/sim/wiring.py": '"""Wiring."""\n',
        "firmware/hal/rpi/gpio.py": """
            \"\"\"Rpi.\"\"\"
            import typing
            import RPi.GPIO
            import serial
            import alsaaudio
            from firmware.hal.api import Pin
        """,
        "firmware/runtime/board.py": """
            \"\"\"Runtime.\"\"\"
            import asyncio
            import socket
            import ssl
            from firmware.app import phone
            from firmware.drivers import keypad
            from firmware.core import sip

            def load_backend(board):
                return __import__("firmware.hal." + board["backend"], None, None, ["x"])
        """,
    }
    make_tree(tmp_path, files)
    for rel in files:
        path = tmp_path / rel
        module, root = layercheck.module_name(path)
        assert layercheck.check_file(path, module, root) == [], rel


def test_layer_message_names_what_the_layer_may_import(tmp_path):
    (message,) = messages(tmp_path, "firmware/core/sip.py", "from firmware.app import calls\n")
    assert "firmware.core, firmware.compat" in message and "firmware.app" in message


def test_relative_imports_resolve_against_the_package(tmp_path):
    make_tree(tmp_path, {"firmware/core/__init__.py": "from ..drivers import keypad\n",
                         "firmware/drivers/keypad.py": "from .. import core\n"})
    core_init = tmp_path / "firmware/core/__init__.py"
    keypad = tmp_path / "firmware/drivers/keypad.py"
    assert layercheck.check_file(core_init, *layercheck.module_name(core_init))[0][:2] == (
        1, "layer")
    assert layercheck.check_file(keypad, *layercheck.module_name(keypad))[0][:2] == (1, "layer")


# -- b. MicroPython subset -------------------------------------------------------

MPY_CASES = [
    ("import dataclasses", "mpy-module"),
    ("from typing import List", "mpy-module"),
    ("import enum", "mpy-module"),
    ("from abc import ABC", "mpy-module"),
    ("import functools", "mpy-module"),
    ("import itertools", "mpy-module"),
    ("import logging", "mpy-module"),
    ("import pathlib", "mpy-module"),
    ("from __future__ import annotations", "mpy-module"),
    ("import string", "mpy-module"),
    ("import os.path", "mpy-name"),
    ("x = os.path.join('a', 'b')", "mpy-name"),
    ("x = os.environ['HOME']", "mpy-name"),
    ("x = time.monotonic()", "mpy-name"),
    ("x = time.perf_counter()", "mpy-name"),
    ("x = time.strftime('%H')", "mpy-name"),
    ("x = collections.defaultdict(list)", "mpy-name"),
    ("from collections import Counter", "mpy-name"),
    ("x = hashlib.new('md5')", "mpy-name"),
    ("x = struct.Struct('<H')", "mpy-name"),
    ("x = re.findall('a', 'b')", "mpy-name"),
    ("x = asyncio.Queue()", "mpy-name"),
    ("x = TimeoutError", "mpy-name"),
    ("x = ConnectionResetError()", "mpy-name"),
    ("x = vars(y)", "mpy-name"),
    ("def f(a, /, b):\n    pass", "mpy-syntax"),
    ("match y:\n    case 1:\n        pass", "mpy-syntax"),
    ("class A(metaclass=M):\n    pass", "mpy-syntax"),
    ("try:\n    pass\nexcept* ValueError:\n    pass", "mpy-syntax"),
    ("x = re.compile(r'(?P<user>\\w+)')", "mpy-regex"),
    ("x = re.match(r'a{2,3}', y)", "mpy-regex"),
    ("x = re.search(r'\\d{3}', y)", "mpy-regex"),
    ("x = re.compile('a(?=b)')", "mpy-regex"),
    ("x = re.compile('a(?!b)')", "mpy-regex"),
    ("x = re.compile('(?<=a)b')", "mpy-regex"),
    ("x = re.compile('(?<!a)b')", "mpy-regex"),
    ("x = re.sub('(?i)via', 'v', y)", "mpy-regex"),
    ("x = re.compile(r'\\bword\\b')", "mpy-regex"),
    ("x = re.compile(r'(a)\\1')", "mpy-regex"),
    ("x = re.compile(PATTERN)", "mpy-regex"),
    ("x = re.compile('a', 2)", "mpy-regex"),
    ("x = h.hexdigest()", "mpy-method"),
    ("x = y.translate(t)", "mpy-method"),
    ("x = str.maketrans('a', 'b')", "mpy-method"),
    ("x = y.ljust(4)", "mpy-method"),
    ("x = y.rjust(4)", "mpy-method"),
    ("x = y.zfill(4)", "mpy-method"),
    ("x = y.title()", "mpy-method"),
    ("x = y.capitalize()", "mpy-method"),
    ("x = y.isalnum()", "mpy-method"),
    ("x = y.removeprefix('a')", "mpy-method"),
    ("x = y.removesuffix('a')", "mpy-method"),
    ("x = n.bit_length()", "mpy-method"),
    ("x = m.tobytes()", "mpy-method"),
    ("x = m.cast('H')", "mpy-method"),
    ("x = m.groups()", "mpy-method"),
    ("x = m.span()", "mpy-method"),
    ("x = p.findall(y)", "mpy-method"),
    ("x = p.finditer(y)", "mpy-method"),
    ("x = p.fullmatch(y)", "mpy-method"),
    ("x = b.decode('latin-1')", "mpy-call"),
    ("x = b.decode('latin1')", "mpy-call"),
    ("x = b.decode(encoding='iso-8859-1')", "mpy-call"),
    ("x = b.decode('utf-8', 'replace')", "mpy-call"),
    ("x = s.encode('latin-1')", "mpy-call"),
    ("x = str(b, 'latin-1')", "mpy-call"),
    ("x = int.from_bytes(b, 'big', signed=True)", "mpy-call"),
    ("x = int.from_bytes(b, byteorder='big')", "mpy-call"),
    ("x = json.dumps(y, indent=2)", "mpy-call"),
    ("x = json.dumps(y, sort_keys=True)", "mpy-call"),
    ("x = collections.deque([])", "mpy-call"),
    ("x = collections.deque([], maxlen=4)", "mpy-call"),
    ("x = struct.pack('<?', True)", "mpy-call"),
    ("print(y, flush=True)", "mpy-call"),
    ("x = y.split(',', maxsplit=1)", "mpy-call"),
    ("x = list(zip(a, b, strict=True))", "mpy-call"),
    ("x = '{0[1]}'.format(y)", "mpy-call"),
    ("x = y[::-1]", "mpy-slice"),
    ("x = y[::2]", "mpy-slice"),
    ("del y[1:3]", "mpy-slice"),
    ("x = e.__cause__", "mpy-attr"),
    ("x = e.__traceback__", "mpy-attr"),
    ("x = f.__qualname__", "mpy-attr"),
    ("x = __doc__", "mpy-attr"),
    ("class A:\n    def __init_subclass__(cls):  # reported on the def line\n        pass",
     "mpy-attr"),
    ("x = time.ticks_ms()", "mpy-only"),
    ("x = asyncio.sleep_ms(5)", "mpy-only"),
]

PRELUDE = ('"""Doc."""\nimport asyncio\nimport collections\nimport hashlib\nimport json\nimport socket\n'
           'import os\nimport re\nimport struct\nimport time\nPATTERN = "(?P<a>x)"\n')


@pytest.mark.parametrize("code,rule", MPY_CASES)
def test_micropython_rule_fires_on_its_line(tmp_path, code, rule):
    line = PRELUDE.count("\n") + 1 + ("reported on the def line" in code)
    assert (line, rule) in findings(tmp_path, "firmware/drivers/thing.py", PRELUDE + code + "\n")


@pytest.mark.parametrize("code,rule", MPY_CASES)
def test_micropython_rules_skip_the_rpi_backend(tmp_path, code, rule):
    found = findings(tmp_path, "firmware/hal/rpi/thing.py", PRELUDE + code + "\n")
    assert not [f for f in found if f[1].startswith("mpy")], found


def test_messages_say_what_to_do_instead(tmp_path):
    text = PRELUDE + "x = h.hexdigest()\ny = time.monotonic()\nz = TimeoutError\n"
    found = messages(tmp_path, "firmware/drivers/thing.py", text)
    assert any("firmware.compat.hexdigest" in m for m in found)
    assert any("firmware.compat.monotonic" in m for m in found)
    assert any("errno.ETIMEDOUT" in m for m in found)


def test_clean_micropython_code_passes(tmp_path):
    text = PRELUDE + textwrap.dedent("""
        import binascii
        from collections import OrderedDict, deque
        from firmware.compat import const, hexdigest

        MAX = const(64)
        TOKEN = re.compile(r"^([A-Za-z0-9.!%*_+`'~-]+)(?:;(\\w+))?$")


        class Frame:
            __slots__ = ("data", "queue")

            def __init__(self, data):
                self.data = bytearray(data)
                self.queue = deque((), 8)

            def head(self):
                m = TOKEN.match("INVITE;x")
                return m.group(1) if m else None

            def fields(self):
                ordered = OrderedDict()
                ordered["a"] = struct.unpack_from("<H", self.data, 0)[0]
                ordered["b"] = binascii.hexlify(self.data[1:3]).decode()
                ordered["c"] = hexdigest("md5", b"x")
                ordered["d"] = int.from_bytes(self.data[:2], "big")
                ordered["e"] = "{:>8}|{:08d}".format("a", 3) + self.data[0:2].decode("utf-8")
                self.data[0:2] = b""
                return ordered, list(reversed([1, 2])), [1, 2, 3][1:], json.dumps([1])
    """)
    assert findings(tmp_path, "firmware/drivers/thing.py", text) == []


def test_slicing_known_lists_is_not_reported(tmp_path):
    text = textwrap.dedent("""
        \"\"\"Doc.\"\"\"


        class Queue:
            def __init__(self):
                self.items = []
                self.buf = bytearray(8)

            def drain(self):
                out = self.items[:]
                del self.items[:]
                back = sorted(out)[::-1]
                del self.buf[:2]
                return back, self.buf[::2]
    """)
    assert findings(tmp_path, "firmware/core/queue.py", text) == [
        (13, "mpy-slice"), (14, "mpy-slice")]


def test_cpython_only_code_under_a_micropython_guard_passes(tmp_path):
    text = PRELUDE + textwrap.dedent("""
        from firmware.compat import MICROPYTHON

        if MICROPYTHON:
            now = time.ticks_ms
        else:
            now = time.monotonic
            Timeout = TimeoutError

        if not MICROPYTHON:
            clock = time.perf_counter

        try:
            import hmac
        except ImportError:
            hmac = None

        try:
            NODELAY = socket.TCP_NODELAY
        except AttributeError:
            NODELAY = None

        if hasattr(os, "path"):
            sep = os.path.sep
        x = time.strftime("%H") if hasattr(time, "strftime") else ""
        y = time.ticks_ms() if MICROPYTHON else time.monotonic()
    """)
    assert findings(tmp_path, "firmware/drivers/thing.py", text) == []


def test_guarded_branch_still_gets_syntax_checks(tmp_path):
    text = '"""Doc."""\nfrom firmware.compat import MICROPYTHON\nif not MICROPYTHON:\n' \
           '    def f(a, /):\n        return a\n'
    assert findings(tmp_path, "firmware/drivers/thing.py", text) == [(4, "mpy-syntax")]


def test_runtime_marker_turns_micropython_rules_off(tmp_path):
    text = '"""Image signing."""\n# cpython-only: uses the cryptography package\n' \
           'import typing\nimport cryptography\nx = time.monotonic()\n'
    assert findings(tmp_path, "firmware/runtime/sign.py", text) == []
    unmarked = text.replace("# cpython-only", "# plain comment")
    rules = findings(tmp_path, "firmware/runtime/sign2.py", unmarked)
    assert (3, "mpy-module") in rules and (4, "mpy-module") in rules


def test_runtime_marker_is_not_honoured_outside_runtime(tmp_path):
    text = '"""Doc."""\n# cpython-only: wants typing\nimport typing\n'
    assert findings(tmp_path, "firmware/drivers/thing.py", text) == [
        (1, "cpython-only"), (3, "mpy-module")]


def test_micropython_file_selection(tmp_path):
    firmware = make_tree(tmp_path, {
        "firmware/runtime/sign.py": "# cpython-only: signs images\n",
        "firmware/runtime/loop.py": '"""Loop."""\n',
        "firmware/hal/rpi/gpio.py": '"""Gpio."""\n',
        "firmware/drivers/thing.py": "# cpython-only: not honoured here\n",
    })
    chosen = {p.relative_to(tmp_path).as_posix() for p in layercheck.micropython_files([firmware])}
    assert "firmware/runtime/loop.py" in chosen and "firmware/drivers/thing.py" in chosen
    assert "firmware/runtime/sign.py" not in chosen
    assert not any(p.startswith("firmware/hal/rpi/") for p in chosen)


# -- c. compat and d. sans-IO ----------------------------------------------------------


def test_only_compat_reads_sys_implementation(tmp_path):
    text = '"""Doc."""\nimport sys\nMPY = sys.implementation.name == "micropython"\n'
    assert (3, "compat") in findings(tmp_path, "firmware/runtime/loop.py", text)
    assert (3, "compat") in findings(tmp_path, "firmware/hal/rpi/gpio.py", text)
    text2 = '"""Doc."""\nfrom sys import implementation\n'
    assert (2, "compat") in findings(tmp_path, "firmware/app/phone.py", text2)
    assert findings(tmp_path, "firmware/compat.py", text) == []


@pytest.mark.parametrize("layer", ["core", "app"])
@pytest.mark.parametrize("module", ["socket", "select", "ssl", "asyncio", "time", "random",
                                    "os", "threading"])
def test_sans_io_layers_import_no_io_module(tmp_path, layer, module):
    text = '"""Doc."""\n\nimport %s\n' % module
    assert findings(tmp_path, "firmware/%s/thing.py" % layer, text) == [(3, "sans-io")]


def test_sans_io_forbids_open_and_compat_clocks(tmp_path):
    text = ('"""Doc."""\nfrom firmware import compat\nfrom firmware.compat import monotonic\n'
            'data = open("x").read()\nnow = compat.monotonic()\ntoken = compat.random_token()\n')
    assert findings(tmp_path, "firmware/core/thing.py", text) == [
        (3, "sans-io"), (4, "sans-io"), (5, "sans-io"), (6, "sans-io")]
    assert findings(tmp_path, "firmware/drivers/thing.py", "import time\n") == []


# -- suppression -------------------------------------------------------------------


def test_suppression_with_a_reason_silences_that_rule_on_that_line(tmp_path):
    text = '"""Doc."""\nx = y.title()  # layercheck: ignore[mpy-method] Screen.title is ours\n'
    assert findings(tmp_path, "firmware/app/screen.py", text) == []


def test_suppression_without_reason_or_of_another_rule_does_not_count(tmp_path):
    text = ('"""Doc."""\nx = y.title()  # layercheck: ignore[mpy-method]\n'
            'z = w.zfill(2)  # layercheck: ignore[layer] wrong rule\n')
    assert findings(tmp_path, "firmware/app/screen.py", text) == [
        (2, "mpy-method"), (2, "suppress"), (3, "mpy-method"), (3, "suppress")]


def test_syntax_errors_are_findings(tmp_path):
    assert findings(tmp_path, "firmware/core/bad.py", "def f(:\n") == [(1, "syntax")]


# -- the command line ----------------------------------------------------------------


def test_command_line_format_summary_and_exit_status(tmp_path):
    firmware = make_tree(tmp_path, {
        "firmware/core/sip.py": '"""Doc."""\n\nimport socket\n',
        "firmware/app/phone.py": '"""Doc."""\n\nx = y[::-1]\n',
    })
    result = run(LAYERCHECK, "firmware", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[:-1] == [
        "firmware/app/phone.py:3: mpy-slice: step slicing (x[::n]) fails on str, bytes and "
        "memoryview on MicroPython; use reversed(), a loop or range()",
        "firmware/core/sip.py:3: sans-io: core may not import socket: core and app do no "
        "I/O; take `now`, bytes and a rand_token() function from the caller",
    ]
    assert lines[-1] == "layercheck: 12 files checked, 2 findings"
    assert firmware.is_dir()


def test_command_line_clean_tree_exits_zero(tmp_path):
    make_tree(tmp_path, {})
    result = run(LAYERCHECK, "firmware", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.splitlines() == ["layercheck: 10 files checked, 0 findings"]


def test_command_line_missing_path_is_a_usage_error(tmp_path):
    result = run(LAYERCHECK, "nowhere", cwd=tmp_path)
    assert result.returncode == 2 and "nowhere" in result.stderr


def test_real_firmware_tree_is_checked_without_crashing():
    result = run(LAYERCHECK, "firmware", cwd=ROOT)
    assert result.returncode in (0, 1), result.stderr
    lines = result.stdout.splitlines()
    assert re.fullmatch(r"layercheck: \d+ files checked, \d+ findings?", lines[-1])
    for line in lines[:-1]:
        assert LINE_RE.match(line), line
    assert (result.returncode == 1) == (len(lines) > 1)


# -- tools/mpycompile ---------------------------------------------------------------------


def test_mpycompile_reports_failures_and_skips_cpython_modules(tmp_path):
    make_tree(tmp_path, {
        "firmware/core/good.py": '"""Good."""\n\ndef f(x):\n    return x[1:]\n',
        "firmware/core/bad.py": '"""Bad."""\n\n\ndef f(a, /):\n    return a\n',
        "firmware/hal/rpi/gpio.py": "def f(a, /):\n    return a\n",
        "firmware/runtime/sign.py": "# cpython-only: signs\ndef f(a, /):\n    return a\n",
    })
    result = run(MPYCOMPILE, "firmware", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines == ["firmware/core/bad.py: line 4: SyntaxError: invalid syntax",
                     "mpycompile: 11 files compiled, 1 failed"]
    assert not list(tmp_path.rglob("*.mpy"))


def test_mpycompile_clean_tree_exits_zero(tmp_path):
    make_tree(tmp_path, {"firmware/core/good.py": '"""Good."""\n'})
    result = run(MPYCOMPILE, "firmware", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == ["mpycompile: 10 files compiled, 0 failed"]
    assert not list(tmp_path.rglob("*.mpy"))
