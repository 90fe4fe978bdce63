from __future__ import annotations

from dvbuild import __version__
from dvbuild.errors import CalledProcessError, ConfigError, Problem
from dvbuild.util import cmd_output


def test_version(cli):
    result = cli("--version")
    assert result.code == 0
    assert result.out.strip() == __version__


def test_unknown_command_is_a_usage_error(cli):
    result = cli("no-such-command")
    assert result.code == 2
    assert "No such command" in result.err


def test_problem_names_file_line_pointer_and_expectation():
    p = Problem("packages/a/datapackage.json", "name is 'A B'", pointer="/name", line=2, column=11,
                expected="a lowercase slug")
    assert str(p) == "packages/a/datapackage.json:2:11 /name: name is 'A B' (expected a lowercase slug)"
    assert ConfigError([p, p]).exit_code == 2


def test_subprocess_error_shows_command_code_and_output():
    try:
        cmd_output("sh", "-c", "echo out; echo err >&2; exit 3")
    except CalledProcessError as e:
        text = str(e)
    assert "exit 3" in text and "sh -c" in text and "out" in text and "err" in text


def test_missing_program():
    try:
        cmd_output("no-such-program-dvbuild")
    except CalledProcessError as e:
        assert e.returncode == 127
