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
