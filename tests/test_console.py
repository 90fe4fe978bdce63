from __future__ import annotations

import pytest

from dvbuild import console


@pytest.fixture(autouse=True)
def _reset():
    yield
    console.configure(github_actions=False)
    console._masked.clear()


def test_masked_values_never_reach_output(capsys):
    console.mask("s3cr3t-value")
    console.log("token is s3cr3t-value")
    console.emit_json({"t": "s3cr3t-value"})
    out, err = capsys.readouterr()
    assert "s3cr3t-value" not in out + err
    assert "***" in err and "***" in out


def test_under_actions_masks_go_to_stderr_so_json_stdout_stays_clean(capsys):
    console.configure(github_actions=True)
    console.mask("line-one\nline-two")
    console.emit_json({"ok": True})
    out, err = capsys.readouterr()
    assert out.strip().startswith("{")
    assert "::add-mask::line-one" in err and "::add-mask::line-two" in err


def test_annotation_escapes_newlines(capsys):
    console.configure(github_actions=True)
    console.annotate("error", "bad\nthing 100%", file="a/datapackage.json", line=3)
    err = capsys.readouterr().err
    assert "::error file=a/datapackage.json,line=3::bad%0Athing 100%25" in err


def test_annotation_properties_are_escaped(capsys):
    console.configure(github_actions=True)
    console.annotate("error", "m", file="a,line=9::x\n::add-mask::y%.py", line=3)
    err = capsys.readouterr().err
    assert err == "::error file=a%2Cline=9%3A%3Ax%0A%3A%3Aadd-mask%3A%3Ay%25.py,line=3::m\n"


HOSTILE = "x\n::error::injected\r::add-mask::main\n  ::stop-commands::t ##[set-output name=a;]b"


def test_no_output_line_reads_as_a_workflow_command(capsys):
    console.configure(github_actions=True)
    console.echo(HOSTILE)
    console.log(f"warning: {HOSTILE}")
    console.echo(f"path {console.untrusted(HOSTILE)}")
    console.emit_json({"path": HOSTILE})
    with console.group(HOSTILE):
        pass
    out, err = capsys.readouterr()
    for line in (out + err).replace("\r", "\n").split("\n"):
        if line.lstrip().startswith("::"):
            assert line.startswith(("::group::x%0A", "::endgroup::")), line
        assert "##[" not in line, line
    assert "path x%0A::error::injected%0D::add-mask::main%0A  ::stop-commands::t ##%5Bset" in out
    assert '"path": "x\\n::error::injected\\r::add-mask::main\\n  ::stop-commands::t #\\u0023[' in out


def test_outside_actions_output_is_untouched(capsys):
    console.echo(HOSTILE)
    console.emit_json({"p": "##["})
    assert capsys.readouterr().out == HOSTILE + '\n{\n  "p": "##["\n}\n'
    assert console.untrusted("a\nb") == "a\nb"


def test_live_display_lines_are_one_per_running_package():
    from dvbuild.notebooks.progress import Running, live_lines

    running = {"sykefravaer": Running(10.0, "02_trend.ipynb: cell 4/9 (elapsed 3.2s)"),
               "a": Running(5.0, "")}
    lines = live_lines(running, done=20, failed=1, total=23, now=17.4, width=60)
    assert lines == ["dvbuild: 20 of 23 package(s) done, 1 failed, 2 running",
                     "  a            starting  12s",
                     "  sykefravaer  02_trend.ipynb: cell 4/9  7s"]
    assert live_lines({}, done=0, failed=0, total=3, now=0) == ["dvbuild: 0 of 3 package(s) done"]
    long = live_lines({"p": Running(0, "x" * 200)}, done=0, failed=0, total=1, now=1, width=40)
    assert len(long[1]) == 40 and long[1].endswith("…")


def test_live_display_only_for_a_person_at_a_terminal(monkeypatch):
    from dvbuild.notebooks import progress

    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)
    assert console.interactive({})
    assert not console.interactive({"CI": "true"})
    assert not console.interactive({"GITHUB_ACTIONS": "true"})
    assert not console.interactive({"TERM": "dumb"})
    assert isinstance(progress.open_display(live=False, total=3), progress.Plain)
    assert isinstance(progress.open_display(live=True, total=0), progress.Plain)
