from __future__ import annotations

import copy
from typing import Any

from dvbuild import console
from dvbuild.comment.markdown import (
    GITHUB_LIMIT,
    MARKER,
    cell,
    fence,
    fmt_bytes,
    fmt_duration,
    render_comment,
    render_summary,
    resource_changes,
)

SHA = "0123456789abcdef0123456789abcdef01234567"


def passed(name: str = "arbeidsledighet", rows: int = 1234) -> dict[str, Any]:
    return {
        "package": name, "path": f"packages/{name}", "status": "passed", "duration": 4.2,
        "commit": SHA, "input_hash": "ab" * 32, "started": "2026-11-26T01:00:00Z",
        "notebooks": [{"path": "main.ipynb", "status": "passed", "duration": 3.9,
                       "html": "main.html", "error": None}],
        "resources": [{
            "name": "ledige", "path": "data/ledige.csv", "exists": True, "bytes": 45_100,
            "rows": rows, "columns": [{"name": "fylke", "type": "string"},
                                      {"name": "antall", "type": "integer"}],
            "preview": {"columns": ["fylke", "antall"],
                        "rows": [["Oslo", 12], ["Viken", 3], ["Agder", 7]]},
            "valid": True, "errors": [],
        }],
        "warnings": [], "error": None,
    }


def failed(name: str = "broken", lines: int = 3) -> dict[str, Any]:
    tb = ["\x1b[0;31m----------------------------------\x1b[0m"]
    tb += [f"  File \"<cell>\", line {i}, in <module>" for i in range(lines)]
    tb += ["\x1b[0;31mZeroDivisionError\x1b[0m: division by zero"]
    return {
        "package": name, "path": f"packages/{name}", "status": "failed", "duration": 61.5,
        "notebooks": [{"path": "main.ipynb", "status": "failed", "duration": 1.0, "html": None,
                       "error": {"cell_index": 2, "cell_number": 3, "source": "1/0",
                                 "ename": "ZeroDivisionError", "evalue": "division by zero",
                                 "traceback": tb}}],
        "resources": [], "warnings": [], "error": "main.ipynb failed in cell 3",
    }


def test_comment_starts_with_the_marker_and_shows_previews() -> None:
    body = render_comment([passed()], head_sha=SHA)
    assert body.startswith(MARKER)
    assert "`0123456`" in body
    assert "✅" in body and "4.2s" in body
    assert "| fylke | antall |" in body
    assert "| Oslo | 12 |" in body
    assert "1 234 rows" in body
    assert "`fylke` string" in body


def test_failing_notebook_shows_cell_and_stripped_traceback_in_details() -> None:
    body = render_comment([failed()], head_sha=SHA)
    assert "❌ failed" in body
    assert "in cell 3" in body and "ZeroDivisionError" in body
    assert "<details><summary>Traceback" in body
    assert "\x1b" not in body
    assert "ZeroDivisionError: division by zero" in body


def test_long_traceback_keeps_its_end() -> None:
    body = render_comment([failed(lines=500)], head_sha=SHA)
    assert "ZeroDivisionError: division by zero" in body
    assert "line 499" in body and "line 10," not in body
    assert "lines left out" in body


def test_long_traceback_keeps_the_failing_cells_frame() -> None:
    report = failed()
    frame = ["Cell In[2], line 4, in f(n)", "----> 4     return f(n - 1)", ""]
    report["notebooks"][0]["error"]["traceback"] = [
        "-" * 40, "RecursionError      Traceback (most recent call last)",
        "Cell In[4], line 2", "      1 z = 3", "----> 2 f(15)", "", *frame * 100,
        "RecursionError: too deep"]
    body = render_comment([report], head_sha=SHA)
    assert "----> 2 f(15)" in body and "RecursionError: too deep" in body
    assert "lines left out" in body


def test_change_against_the_published_manifest() -> None:
    manifest = {"resources": [{"name": "ledige", "path": "data/ledige.csv", "rows": 1200,
                               "bytes": 44_000, "schema": {"fields": [
                                   {"name": "fylke", "type": "string"},
                                   {"name": "antall", "type": "number"},
                                   {"name": "gone", "type": "string"}]}}]}
    body = render_comment([passed()], head_sha=SHA, previous={"arbeidsledighet": manifest})
    assert "(+34)" in body
    assert "(+1.1 kB)" in body
    assert "**was number**" in body
    assert "~~`gone`~~" in body


def test_resource_changes_added_column_and_bytes_from_the_file_list() -> None:
    res = passed()["resources"][0]
    manifest = {"files": [{"path": "data/ledige.csv", "bytes": 50_000, "sha256": "x"}],
                "resources": [{"name": "ledige", "path": "data/ledige.csv", "rows": 1300,
                               "columns": [{"name": "fylke", "type": "string"}]}]}
    changes = resource_changes(res, manifest)
    assert changes["rows_delta"] == -66
    assert changes["bytes_delta"] == -4_900
    assert [c.get("change") for c in changes["columns"]] == [None, "added"]
    assert changes["removed"] == []


def test_a_resource_not_in_the_last_version_is_new() -> None:
    changes = resource_changes(passed()["resources"][0], {"resources": []})
    assert changes["new"] is True
    assert resource_changes(passed()["resources"][0], None)["new"] is False


def test_huge_comment_stays_under_the_limit_and_says_what_was_cut() -> None:
    big = passed()
    big["resources"][0]["preview"] = {
        "columns": [f"col{i}" for i in range(30)],
        "rows": [["x" * 200] * 30 for _ in range(10)],
    }
    reports = [dict(copy.deepcopy(big), package=f"p{i}") for i in range(60)]
    reports += [failed(f"f{i}", lines=300) for i in range(20)]
    body = render_comment(reports, head_sha=SHA, artifact_url="https://example.invalid/a/1")
    assert len(body) < GITHUB_LIMIT
    assert "Shortened to fit" in body
    assert "https://example.invalid/a/1" in body
    assert "`f19`" in body  # every package is still named


def test_thousands_of_packages_are_cut_hard_but_fit() -> None:
    reports = [failed(f"package-{i:05d}") for i in range(3000)]
    body = render_comment(reports, head_sha=SHA, artifact_url="https://example.invalid/a/1")
    assert len(body) <= 60_000
    assert body.startswith(MARKER)
    assert "cut here" in body


def test_secrets_are_masked_and_data_uris_dropped() -> None:
    console.mask("hunter2-secret-value")
    report = failed()
    report["notebooks"][0]["error"]["evalue"] = "token hunter2-secret-value rejected"
    report["warnings"] = ["see ![plot](data:image/png;base64,iVBORw0KGgo=)"]
    body = render_comment([report], head_sha=SHA)
    assert "hunter2-secret-value" not in body
    assert "data:image" not in body


def test_cells_are_escaped_for_markdown_tables() -> None:
    assert cell("a|b") == "a\\|b"
    assert cell("<script>") == "&lt;script&gt;"
    assert cell("two\nlines") == "two lines"
    assert len(cell("x" * 500)) <= 60
    assert cell(None) == ""


def test_fence_is_longer_than_backticks_inside() -> None:
    assert fence("plain") == "```"
    assert fence("has ```` four") == "`````"


def test_formatting() -> None:
    assert fmt_duration(4.23) == "4.2s"
    assert fmt_duration(125) == "2m 05s"
    assert fmt_bytes(999) == "999 B"
    assert fmt_bytes(45_100) == "45.1 kB"


def test_no_packages() -> None:
    body = render_comment([], head_sha=SHA)
    assert "nothing to test" in body


def test_summary_has_resources_but_no_marker() -> None:
    text = render_summary([passed(), failed()], head_sha=SHA)
    assert MARKER not in text
    assert "`ledige`" in text and "1 234" in text
    assert "ZeroDivisionError" in text


def test_annotations_point_at_the_failing_notebook(capsys: Any) -> None:
    from dvbuild.comment.markdown import annotate

    console.configure(github_actions=True)
    try:
        annotate([passed(), failed()], prefix="team/")
    finally:
        console.configure(github_actions=False)
    err = capsys.readouterr().err
    assert "::error file=team/packages/broken/main.ipynb::broken: main.ipynb failed in cell 3: " \
           "ZeroDivisionError: division by zero" in err
    assert "arbeidsledighet" not in err


def test_packages_with_problems_come_first() -> None:
    body = render_comment([passed("a-first"), failed("z-last")], head_sha=SHA)
    assert body.index("`z-last`") < body.index("`a-first`")
    assert "| `z-last` | ❌ failed | 1m 02s | 0 | – |" in body


def test_upstream_changes_against_the_published_manifest() -> None:
    from dvbuild.comment.upstream import UpstreamChange, upstream_changes

    def reads(*pairs: tuple[str, str]) -> list[dict[str, Any]]:
        return [{"name": n, "version": v, "resource": "t", "sha256": "0"} for n, v in pairs]

    manifest = {"inputs": reads(("a", "1.0.0-x"), ("same", "1.0.0-s"), ("gone", "1.0.0-g"))}
    report = {**passed(), "inputs": reads(("a", "1.1.0-y"), ("same", "1.0.0-s"), ("a", "1.2.0-z"),
                                          ("new", "0.1.0-n"))}
    assert upstream_changes(report, manifest) == [
        UpstreamChange("changed", "a", ("1.0.0-x",), ("1.1.0-y", "1.2.0-z")),
        UpstreamChange("dropped", "gone", ("1.0.0-g",), ()),
        UpstreamChange("new", "new", (), ("0.1.0-n",))]
    # a failed run may have stopped before a read: nothing is said to be dropped
    assert [c.kind for c in upstream_changes({**report, "status": "failed"}, manifest)] == [
        "changed", "new"]
    # nothing to compare with: no manifest, a manifest or a report from before lineage
    assert upstream_changes(report, None) == upstream_changes(report, {"resources": []}) == []
    assert upstream_changes(passed(), manifest) == []


def test_upstream_names_are_escaped_in_the_comment() -> None:
    report = {**passed(), "inputs": [{"name": "a|b`<x>", "version": "1.0.0-y"}]}
    body = render_comment([report], head_sha=SHA, previous={"arbeidsledighet": {"inputs": []}})
    assert "- new upstream: `a|b'<x>` 1.0.0-y\n" in body  # a code span: literal, unbreakable
    assert "Upstream packages" not in render_comment([report], head_sha=SHA)


def test_data_that_fails_its_schema_fails_the_package() -> None:
    from dvbuild.notebooks.report import status_of

    report = passed()
    resource = report["resources"][0]
    resource.update(valid=False, error_count=820, more_errors=False, errors=[
        "data/ledige.csv (row 2): extra-cell: value '3': Row at position \"2\" has an extra "
        "value in field at position \"3\"", "… and 819 more errors"])
    status, error = status_of(report["notebooks"], report["resources"])
    assert status == "failed"
    assert error is not None and error.startswith("data does not match the descriptor: ledige: "
                                                  "820 errors (data/ledige.csv (row 2)")
    report.update(status=status, error=error)
    body = render_comment([report], head_sha=SHA)
    assert "❌ failed" in body and "⚠️ invalid" in body  # the package failed: its resource is why


def test_every_count_of_a_run_comes_from_one_function() -> None:
    from dvbuild.notebooks.report import counts, counts_text

    timed_out = {**failed("slow"), "status": "timed_out"}
    invalid = {**failed("bad-input"), "status": "invalid"}
    reports = [passed("a"), passed("b"), failed("c"), timed_out, invalid, failed("d")]
    assert counts(reports) == {"passed": 2, "failed": 2, "timed_out": 1, "invalid": 1}
    assert counts_text(reports) == "2 passed, 2 failed, 1 timed out, 1 invalid"
    line = "2 ✅ passed, 2 ❌ failed, 1 ⏱️ timed out, 1 ⚠️ invalid"
    assert line in render_comment(reports, head_sha=SHA)
    assert line in render_summary(reports, head_sha=SHA)


def test_a_missing_module_says_where_to_add_it() -> None:
    from dvbuild.notebooks.outcome import add_hint
    from dvbuild.notebooks.report import failure_line

    error = {"cell_number": 2, "ename": "ModuleNotFoundError",
             "evalue": "No module named 'matplotlib.pyplot'"}
    add_hint(error, "packages/ledighet")
    assert error["hint"] == "add matplotlib to packages/ledighet/requirements.txt"
    assert failure_line({"path": "main.ipynb", "status": "failed", "error": error}).endswith(
        "No module named 'matplotlib.pyplot' (hint: add matplotlib to "
        "packages/ledighet/requirements.txt)")
    other = {"ename": "ValueError", "evalue": "No module named 'x'"}
    add_hint(other, ".")
    assert "hint" not in other


HOSTILE = ("f <img src=x onerror=alert(1)> [click](https://evil.example) ![i](https://e.x/i.png) "
           "@octocat @org/team #12 www.evil.example a@b.example `x` *em* _u_ ~~s~~ $\\Huge{x}$ "
           ":smile: | &amp; \\\\\n## ✅ Security review passed\n<details open>\r\n- item\n> quote")
ALLOWED_TAGS = {"p", "h2", "h3", "table", "thead", "tbody", "tr", "th", "td", "code", "pre",
                "details", "summary", "blockquote", "strong", "del", "ul", "li", "hr"}


def hostile_report() -> dict[str, Any]:
    """Every string a report carries, hostile: names, paths, messages, data."""
    report = failed("pkg")
    report.update(package="n" + HOSTILE, path="packages/" + HOSTILE, error=HOSTILE,
                  warnings=[HOSTILE, "- a list", "1. a list", "# heading", "> quote"],
                  inputs=[{"name": HOSTILE, "version": HOSTILE}])
    notebook = report["notebooks"][0]
    notebook.update(path=HOSTILE, status="failed")
    notebook["error"].update(ename=HOSTILE, evalue=HOSTILE,
                             traceback=["```", HOSTILE, "</details>", "\r````x"])
    report["resources"] = copy.deepcopy(passed()["resources"])
    resource = report["resources"][0]
    resource.update(name=HOSTILE, path=HOSTILE, columns=[{"name": HOSTILE, "type": HOSTILE}],
                    preview={"columns": [HOSTILE, "b"], "rows": [[HOSTILE, "<b>x</b>"]]},
                    errors=[HOSTILE, "# heading"])
    return report


def assert_inert(markdown: str, headings: int, links: tuple[str, ...] = ()) -> None:
    """What untrusted text must never become in a comment: an HTML tag, a link or image,
    a mention, an issue reference, a heading (only dvbuild's own `headings` and `links`)."""
    import re

    from markdown_it import MarkdownIt

    html = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"]) \
        .render(markdown)
    assert set(re.findall(r"<([a-z][a-z0-9]*)", html)) <= ALLOWED_TAGS | {"a"}, html
    assert set(re.findall(r"<a ([^>]*)>", html)) <= {f'href="{u}"' for u in links}, html
    assert "<details open" not in html and "<img" not in html
    assert len(re.findall(r"<h[1-6]>", html)) == headings
    # what GitHub links beyond CommonMark (autolinks, mentions, references), outside code
    prose = re.sub(r"`[^`\n]*`", "", re.sub(r"(?ms)^(`{3,})text\n.*?^\1$", "", markdown))
    for link in links:
        prose = prose.replace(f"]({link})", "]")
    assert not re.search(r"(?i)\b(https?|ftp)://|\bwww\.|@\w|#\d|(?<!\\)\$", prose), prose
    assert "\r" not in markdown


def test_untrusted_text_stays_text() -> None:
    hostile = hostile_report()
    previous = {hostile["package"]: {"inputs": [], "resources": []}}
    run = "https://github.com/o/r/actions/runs/1"
    body = render_comment([hostile, passed()], head_sha=SHA, previous=previous, artifact_url=run)
    assert_inert(body, headings=3, links=(run,))  # the title, one per package
    assert_inert(render_summary([hostile, passed()], head_sha=SHA), headings=1)
    assert "&lt;img src=x onerror=alert(1)&gt;" in body
    assert "@\u200docto" in body and "\\#\u200d12" in body  # neutralised, still readable
    assert "`packages/f <img src=x onerror=alert(1)> [click](https://evil.example)" in body


def test_code_spans_cannot_be_broken_and_values_are_capped() -> None:
    from dvbuild.comment.markdown import CODE_CHARS, code, text

    assert code("a`b\nc") == "`a'b c`"
    assert code("a|b", table=True) == "`a\\|b`"
    assert code("") == code(None) == code("\n") == "–"  # never an empty span
    assert len(code("x" * 10_000)) == CODE_CHARS + 2
    assert len(text("y" * 10_000)) <= 300
    assert text("\u202eevil\u200b") == "evil"  # bidi overrides and zero-width characters go


def test_escaping_does_not_unmask_a_secret() -> None:
    from dvbuild.comment.markdown import code, text

    console.mask("s3cr_t*value:x")
    assert text("key s3cr_t*value:x") == "key \\*\\*\\*"  # masked before it is escaped
    assert "s3cr" not in code("s3cr_t*value:x")
