from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dvbuild.comment.markdown import MARKER
from tests.conftest import CORPORA, Result
from tests.test_github import REPO, TOKEN, GitHubAPI, github_api  # noqa: F401
from tests.test_report import failed, passed

HEAD = "1111111111111111111111111111111111111111"
MERGE = "2222222222222222222222222222222222222222"


def write_reports(folder: Path, *reports: dict[str, Any]) -> Path:
    for r in reports:
        (folder / r["package"]).mkdir(parents=True, exist_ok=True)
        (folder / r["package"] / "report.json").write_text(json.dumps(r))
    return folder


def pr_event(tmp_path: Path, number: int = 2) -> Path:
    event = json.loads((CORPORA / "github-events" / "pull_request.opened.json").read_text())
    event["number"] = event["pull_request"]["number"] = number
    event["pull_request"]["head"]["sha"] = HEAD
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    return path


def actions_env(api: GitHubAPI, event: Path, tmp_path: Path, name: str = "pull_request") -> dict[str, str]:
    return {
        "GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": name, "GITHUB_EVENT_PATH": str(event),
        "GITHUB_API_URL": api.url, "GITHUB_TOKEN": TOKEN, "GITHUB_REPOSITORY": REPO,
        "GITHUB_SHA": MERGE, "GITHUB_RUN_ID": "77", "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
    }


def test_dry_run_prints_the_comment(tmp_path: Path, cli: Callable[..., Result]) -> None:
    reports = write_reports(tmp_path / "out", passed(), failed())
    result = cli("comment", "--report", reports, "--dry-run", cwd=tmp_path)
    assert result.code == 0, result.err
    assert result.out.startswith(MARKER)
    assert "| Oslo | 12 |" in result.out
    assert "ZeroDivisionError" in result.out


def test_posts_on_the_pull_request_naming_its_head_commit(
    tmp_path: Path, cli: Callable[..., Result], github_api: GitHubAPI  # noqa: F811
) -> None:
    reports = write_reports(tmp_path / "out", passed())
    env = actions_env(github_api, pr_event(tmp_path, 2), tmp_path)
    result = cli("comment", "--report", reports, cwd=tmp_path, env=env)
    assert result.code == 0, result.err
    body = github_api.comments[2][0]["body"]
    assert body.startswith(MARKER)
    assert HEAD[:7] in body and MERGE[:7] not in body
    assert "https://github.com/octo-org/data-monorepo/actions/runs/77" in body
    assert "`ledige`" in (tmp_path / "summary.md").read_text()

    again = cli("comment", "--report", write_reports(reports, failed()), cwd=tmp_path, env=env)
    assert again.code == 0, again.err
    assert len(github_api.comments[2]) == 1
    assert "ZeroDivisionError" in github_api.comments[2][0]["body"]


def test_pr_flag_overrides_the_event(
    tmp_path: Path, cli: Callable[..., Result], github_api: GitHubAPI  # noqa: F811
) -> None:
    env = actions_env(github_api, pr_event(tmp_path, 2), tmp_path)
    result = cli("comment", "--report", write_reports(tmp_path / "o", passed()), "--pr", "5",
                 cwd=tmp_path, env=env)
    assert result.code == 0, result.err
    assert list(github_api.comments) == [5]


def workflow_run_event(tmp_path: Path, head: str) -> Path:
    event = {"action": "completed", "workflow_run": {
        "id": 99, "event": "pull_request", "head_sha": head, "conclusion": "success",
        "pull_requests": [],  # empty for pull requests from forks
        "head_repository": {"full_name": "someone/data-monorepo"},
    }, "repository": {"full_name": REPO}}
    path = tmp_path / "wr.json"
    path.write_text(json.dumps(event))
    return path


def test_fork_comment_from_workflow_run_checks_the_head(
    tmp_path: Path, cli: Callable[..., Result], github_api: GitHubAPI  # noqa: F811
) -> None:
    reports = write_reports(tmp_path / "out", passed())
    (reports / "pull-request.json").write_text('{"number": 12}')
    github_api.heads[12] = HEAD
    env = actions_env(github_api, workflow_run_event(tmp_path, HEAD), tmp_path, "workflow_run")
    result = cli("comment", "--report", reports, cwd=tmp_path, env=env)
    assert result.code == 0, result.err
    assert HEAD[:7] in github_api.comments[12][0]["body"]

    github_api.heads[12] = "3" * 40  # the artifact names a PR that is elsewhere now
    result = cli("comment", "--report", reports, cwd=tmp_path, env=env)
    assert result.code == 1
    assert "not at the tested commit" in result.err


def test_bad_pull_request_file_is_bad_input(
    tmp_path: Path, cli: Callable[..., Result], github_api: GitHubAPI  # noqa: F811
) -> None:
    reports = write_reports(tmp_path / "out", passed())
    (reports / "pull-request.json").write_text('{"number": "12; rm -rf /"}')
    env = actions_env(github_api, workflow_run_event(tmp_path, HEAD), tmp_path, "workflow_run")
    result = cli("comment", "--report", reports, cwd=tmp_path, env=env)
    assert result.code == 2
    assert "pull-request.json" in result.err and "/number" in result.err


def test_malformed_report_names_file_and_line(tmp_path: Path, cli: Callable[..., Result]) -> None:
    (tmp_path / "out" / "x").mkdir(parents=True)
    (tmp_path / "out" / "x" / "report.json").write_text('{\n  "package": "x",\n  oops\n}')
    result = cli("comment", "--report", tmp_path / "out", "--dry-run", cwd=tmp_path)
    assert result.code == 2
    assert "report.json:3" in result.err
    assert "Traceback" not in result.err


def test_no_token_is_bad_input(tmp_path: Path, cli: Callable[..., Result]) -> None:
    env = {"GITHUB_EVENT_PATH": str(pr_event(tmp_path)), "GITHUB_REPOSITORY": REPO}
    result = cli("comment", "--report", write_reports(tmp_path / "o", passed()),
                 cwd=tmp_path, env=env)
    assert result.code == 2
    assert "token" in result.err


def test_missing_report_folder(tmp_path: Path, cli: Callable[..., Result]) -> None:
    result = cli("comment", "--report", tmp_path / "nope", "--dry-run", cwd=tmp_path)
    assert result.code == 2


def test_compares_with_the_published_version(tmp_path: Path, cli: Callable[..., Result]) -> None:
    publish = pytest.importorskip("dvbuild.publish")
    built = tmp_path / "built" / "arbeidsledighet"
    (built / "data").mkdir(parents=True)
    (built / "data" / "ledige.csv").write_text("fylke,antall,gone\nOslo,1,x\n")
    (built / "datapackage.json").write_text(json.dumps({
        "name": "arbeidsledighet", "resources": [{"name": "ledige", "path": "data/ledige.csv"}]}))
    store = f"file://{tmp_path / 'store'}"
    publish.publish_dirs([built], store, None, environ={})
    reports = write_reports(tmp_path / "out", passed())
    result = cli("comment", "--report", reports, "--dry-run", "--store", store, cwd=tmp_path)
    assert result.code == 0, result.err
    assert "(+1 233)" in result.out  # 1 row published, 1234 now
    assert "~~`gone`~~" in result.out


def test_says_which_upstream_versions_changed(tmp_path: Path, cli: Callable[..., Result]) -> None:
    from dvbuild import publish

    built = tmp_path / "built" / "arbeidsledighet"
    built.mkdir(parents=True)
    (built / "datapackage.json").write_text(json.dumps({"name": "arbeidsledighet", "resources": []}))
    before = [{"name": "befolkning", "version": "1.0.0-aaaa", "resource": "t", "sha256": "a"},
              {"name": "gammel", "version": "0.1.0-dddd", "resource": None, "sha256": "d"}]
    (built / "report.json").write_text(json.dumps({"inputs": before}))
    store = (tmp_path / "store").as_uri()
    publish.publish_dirs([built], store, None, environ={})
    now = [{**before[0], "version": "1.1.0-bbbb"}, {**before[0], "name": "ny", "version": "2.0.0-cccc"}]
    reports = write_reports(tmp_path / "out", {**passed(), "inputs": now})
    result = cli("comment", "--report", reports, "--dry-run", "--store", store, cwd=tmp_path)
    assert result.code == 0, result.err
    assert "- upstream changed: `befolkning` 1.0.0-aaaa → 1.1.0-bbbb\n" in result.out
    assert "- new upstream: `ny` 2.0.0-cccc\n" in result.out
    assert "- no longer read: `gammel` (was 0.1.0-dddd)\n" in result.out


def test_dry_run_renders_hostile_reports_as_text(tmp_path: Path, cli: Callable[..., Result]) -> None:
    from tests.test_report import assert_inert, hostile_report

    hostile = hostile_report()
    hostile["package"] = "hostile"  # the folder name below the report dir
    reports = write_reports(tmp_path / "out", hostile, passed())
    result = cli("comment", "--report", reports, "--dry-run", cwd=tmp_path)
    assert result.code == 0, result.err
    assert_inert(result.out, headings=3)  # (the traceback keeps its text, inside a fence)


@pytest.mark.parametrize(("change", "pointer"), [
    ({"status": "## ✅ Security review passed"}, "/status"),
    ({"commit": "x) ![i](https://evil.example/i.png"}, "/commit"),
    ({"notebooks": [{"path": "a", "error": {"cell_number": "<b>3</b>"}}]},
     "/notebooks/0/error/cell_number"),
    ({"resources": [{"name": "r", "rows": "many"}]}, "/resources/0/rows"),
    ({"warnings": "not a list"}, "/warnings"),
    ({"package": None}, "/package"),
])
def test_report_that_breaks_the_schema_is_bad_input(
    tmp_path: Path, cli: Callable[..., Result], change: dict[str, Any], pointer: str
) -> None:
    report = {**passed(), **change}
    folder = tmp_path / "out" / "x"
    folder.mkdir(parents=True)
    (folder / "report.json").write_text(json.dumps(report, indent=2))
    result = cli("comment", "--report", tmp_path / "out", "--dry-run", cwd=tmp_path)
    assert result.code == 2, result.out
    assert "report.json:" in result.err and pointer in result.err  # file, line, pointer
    assert "Traceback" not in result.err and result.out == ""
    assert "evil" not in result.err and "<b>" not in result.err  # the value is never quoted


def test_report_without_a_required_field_names_it(tmp_path: Path, cli: Callable[..., Result]) -> None:
    report = passed()
    del report["notebooks"]
    reports = write_reports(tmp_path / "out", report)
    result = cli("comment", "--report", reports, "--dry-run", cwd=tmp_path)
    assert result.code == 2
    assert "/notebooks: is missing" in result.err
