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
