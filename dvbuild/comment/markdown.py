"""Reports (report.json) -> the PR comment and the job summary, as Markdown (pure, no I/O).

A comment over GitHub's 65,536-character limit is refused whole (422), so the
comment is rendered at decreasing levels of detail until it fits: shorter
previews and tracebacks first, then passed packages collapsed to one line, then
every package. Whatever was left out is said, with a link to the full report.

Everything in a report is untrusted text (folder and notebook names, messages,
data; under `workflow_run` the whole report.json comes from a fork). The templates
never print a value as Markdown: every `{{ value }}` goes through `text` (the
environment's `finalize`), which makes it one inert line — HTML escaped, Markdown
punctuation backslash-escaped, `@` mentions and `#` references broken with a zero-width
joiner, autolinks defused, newlines and control characters gone, length capped. Names
shown as code go through `code`, a span that cannot be broken (no backticks, no
newlines). Only what this module builds itself (the marker, fences, tracebacks inside
them, URLs) is `Markup`, printed as is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from markupsafe import Markup

from dvbuild import console, templating
from dvbuild.comment.upstream import UpstreamChange, upstream_changes

if TYPE_CHECKING:
    from dvbuild.notebooks.report import Report

MARKER = "<!-- dvbuild-comment -->"
GITHUB_LIMIT = 65_536
BUDGET = 60_000  # headroom below the limit: GitHub counts some characters twice
CELL_CHARS = 60  # a table cell
TEXT_CHARS = 300  # any other value
CODE_CHARS = 120  # a name or path shown as code
TRACEBACK_CHARS = 500  # one traceback line
SHA_RE = re.compile(r"^[0-9a-f]{7,64}$")
ANSI_RE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
DATA_URI_RE = re.compile(r"data:[\w.+-]+/[\w.+-]+(;[\w=.+-]+)*(;base64)?,[\w+/=%.-]*", re.I)
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # newlines and other controls
INVISIBLE_RE = re.compile("[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
MARKDOWN_RE = re.compile(r"([\\`*_\[\]|~:$#])")  # backslash-escaped wherever they are
ZWJ = "\u200d"  # after `@` and `#`: no mention, no issue reference, no email autolink
BADGES = {
    "passed": "✅ passed", "failed": "❌ failed", "timed_out": "⏱️ timed out",
    "invalid": "⚠️ invalid", "skipped": "⏭️ skipped",
}


@dataclass(frozen=True)
class Detail:
    """How much to show; render_comment steps down these until the comment fits."""

    preview_rows: int
    traceback_lines: int
    collapse_passed: bool = False
    collapse_all: bool = False
    note: str = ""


LEVELS = (
    Detail(10, 60),
    Detail(5, 25, note="previews cut to 5 rows and tracebacks to 25 lines"),
    Detail(0, 12, note="previews and columns left out, tracebacks cut to 12 lines"),
    Detail(0, 12, collapse_passed=True, note="passed packages shown as one line each"),
    Detail(0, 0, collapse_passed=True, collapse_all=True,
           note="every package shown as one line"),
)


def render_comment(
    reports: Sequence[Report],
    *,
    head_sha: str | None,
    previous: Mapping[str, Mapping[str, Any] | None] | None = None,
    artifact_url: str | None = None,
    commit_url: str | None = None,
    limit: int = BUDGET,
) -> str:
    """The PR comment (starting with MARKER), never longer than `limit` characters."""
    body = ""
    for level in LEVELS:
        context = _context(reports, head_sha, previous or {}, level, artifact_url, commit_url)
        body = clean(_render("comment.md.j2", context))
        if len(body) <= limit:
            return body
    return _hard_cut(body, limit, artifact_url)


def render_summary(
    reports: Sequence[Report],
    *,
    head_sha: str | None = None,
    previous: Mapping[str, Mapping[str, Any] | None] | None = None,
) -> str:
    """The job summary ($GITHUB_STEP_SUMMARY): the overview and resources, no previews."""
    context = _context(reports, head_sha, previous or {}, Detail(0, 12), None, None)
    return clean(_render("summary.md.j2", context))


def annotate(reports: Sequence[Report], prefix: str = "") -> None:
    """::error annotations (under GitHub Actions) for packages that did not pass,
    pointing at the failing notebook; `prefix` is the monorepo's path in the repo."""
    for r in reports:
        if r.get("status") in ("passed", "invalid"):  # invalid: validate annotated it
            continue
        folder = prefix + str(r.get("path") or "")
        failures = [nb for nb in r.get("notebooks") or [] if nb.get("error")]
        for nb in failures:
            f = _failure(nb, LEVELS[-1])
            where = f" in cell {f['cell']}" if f["cell"] is not None else ""
            console.annotate("error", f"{r.get('package')}: {f['notebook']} failed{where}: "
                             f"{f['ename']}: {f['evalue']}", file=f"{folder}/{f['notebook']}")
        if not failures:
            console.annotate("error", f"{r.get('package')}: {r.get('status')}: "
                             f"{one_line(r.get('error'))}", file=f"{folder}/datapackage.json")


def clean(text: str) -> str:
    """Strip ANSI colour codes and data: URIs (GitHub drops them), mask secrets."""
    text = ANSI_RE.sub("", text)
    text = DATA_URI_RE.sub("(data URI left out)", text)
    return console.redact(text)


def _hard_cut(body: str, limit: int, artifact_url: str | None) -> str:
    tail = "\n\n… the comment was cut here to stay under GitHub's size limit"
    tail += f"; [full report]({url(artifact_url)})\n" if artifact_url else "; see the report artifact\n"
    return body[: limit - len(tail)] + tail


def _context(
    reports: Sequence[Report], head_sha: str | None,
    previous: Mapping[str, Mapping[str, Any] | None], level: Detail,
    artifact_url: str | None, commit_url: str | None,
) -> dict[str, Any]:
    packages = [_package(r, previous.get(str(r.get("package"))), level) for r in reports]
    packages.sort(key=lambda p: (p["status"] == "passed", p["name"]))  # problems first
    from dvbuild.notebooks.report import counts  # the same count as the CLI's

    head_sha = head_sha if head_sha and SHA_RE.match(head_sha) else None
    return {
        "marker": Markup(MARKER),
        "packages": packages,
        "counts": [(BADGES.get(s, s), n) for s, n in counts(reports).items()],
        "ok": all(p["status"] == "passed" for p in packages),
        "head_sha": head_sha or "",
        "short_sha": (head_sha or "")[:7],
        "commit_url": commit_url,
        "artifact_url": artifact_url,
        "level": level,
        "duration": fmt_duration(sum(float(r.get("duration") or 0) for r in reports)),
    }


def _package(
    report: Report, manifest: Mapping[str, Any] | None, level: Detail
) -> dict[str, Any]:
    status = str(report.get("status") or "failed")
    collapsed = level.collapse_all or (level.collapse_passed and status == "passed")
    resources = [resource_changes(r, manifest) for r in report.get("resources") or []]
    return {
        "name": str(report.get("package") or "?"),
        "path": str(report.get("path") or ""),
        "status": status,
        "badge": BADGES.get(status, status),
        "duration": fmt_duration(report.get("duration")),
        "collapsed": collapsed,
        "error": one_line(report.get("error")),
        "failures": [_failure(nb, level) for nb in report.get("notebooks") or []
                     if nb.get("error") or nb.get("status") not in (None, "passed")],
        "resources": [_resource(r, level) for r in resources],
        "warnings": [one_line(w) for w in report.get("warnings") or []],
        "upstream": [_upstream(c) for c in upstream_changes(report, manifest)],
        "compared": manifest is not None,
        "rows": sum(int(r.get("rows") or 0) for r in resources),
        "rows_text": fmt_count(sum(int(r.get("rows") or 0) for r in resources))
        if resources else "–",
    }


def _failure(notebook: Mapping[str, Any], level: Detail) -> dict[str, Any]:
    from dvbuild.notebooks.outcome import cut_traceback

    error = notebook.get("error") or {}
    keep, omitted = cut_traceback(error.get("traceback") or [], level.traceback_lines)
    block = traceback_block(keep) if keep else Markup("")
    return {
        "notebook": str(notebook.get("path") or "?"),
        "status": BADGES.get(str(notebook.get("status")), str(notebook.get("status"))),
        "cell": error.get("cell_number") or error.get("cell_index"),
        "ename": one_line(error.get("ename")),
        "evalue": one_line(error.get("evalue"), 300),
        "traceback": block,
        "omitted": omitted,
        "fence": Markup(fence(block)),
    }


def _resource(res: Mapping[str, Any], level: Detail) -> dict[str, Any]:
    preview = res.get("preview") or {}
    columns = [cell(c) for c in preview.get("columns") or []]
    rows = [[cell(v) for v in row] for row in (preview.get("rows") or [])[: level.preview_rows]]
    return {
        **res,
        "name": one_line(res.get("name"), CODE_CHARS),
        "path": one_line(res.get("path"), CODE_CHARS),
        "bytes_text": fmt_bytes(res.get("bytes")),
        "bytes_delta_text": fmt_delta(res.get("bytes_delta"), fmt_bytes),
        "rows_text": fmt_count(res.get("rows")),
        "rows_delta_text": fmt_delta(res.get("rows_delta"), fmt_count),
        "columns": [{"name": one_line(c.get("name"), CELL_CHARS),
                     "type": one_line(c.get("type") or "?", CELL_CHARS),
                     "change": one_line(c.get("change", ""), CELL_CHARS)}
                    for c in res.get("columns") or []],
        "removed": [one_line(c, CELL_CHARS) for c in res.get("removed") or []],
        "show_columns": level.preview_rows > 0,
        "preview_columns": Markup(" | ").join(columns),
        "preview_rows": [Markup(" | ").join(row) for row in rows] if columns else [],
        "preview_width": len(columns),
        "errors": [one_line(e) for e in res.get("errors") or []][:5],
    }


UPSTREAM_LABELS = {"changed": "upstream changed", "new": "new upstream", "dropped": "no longer read"}


def _upstream(change: UpstreamChange) -> dict[str, str]:
    return {"label": UPSTREAM_LABELS[change.kind], "name": one_line(change.name, CODE_CHARS),
            "before": ", ".join(one_line(v, CELL_CHARS) for v in change.before),
            "after": ", ".join(one_line(v, CELL_CHARS) for v in change.after)}


def fence(text: str) -> str:
    """A code fence longer than any run of backticks inside the text."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def plain(value: Any, width: int = TEXT_CHARS) -> str:
    """Untrusted text as one line of at most `width` characters: secrets masked (before
    anything could split them), ANSI codes and data: URIs dropped, newlines and control
    characters made spaces, invisible ones (zero-width, bidi overrides) removed."""
    text = "" if value is None else str(value)
    text = DATA_URI_RE.sub("(data URI left out)", ANSI_RE.sub("", console.redact(text)))
    text = re.sub(r"\s+", " ", CONTROL_RE.sub(" ", INVISIBLE_RE.sub("", text)))
    return text if len(text) <= width else text[: width - 1] + "…"


def text(value: Any, width: int = TEXT_CHARS) -> Markup:
    """The one escaping of untrusted text for Markdown and HTML: `plain`, then no tag, entity,
    link, image, emphasis, code span, table cell, math, heading, mention or reference can
    come out of it. Not for line starts (a leading `-`, `+` or `1.` could begin a list)."""
    if isinstance(value, Markup):
        return value
    escaped = plain(value, width).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    escaped = MARKDOWN_RE.sub(r"\\\1", escaped).replace("#", "#" + ZWJ).replace("@", "@" + ZWJ)
    return Markup(re.sub(r"(?i)\b(www)\.", r"\1\\.", escaped))  # www.x autolinks without a scheme


def code(value: Any, width: int = CODE_CHARS, table: bool = False) -> Markup:
    """Untrusted text as a code span that cannot be broken: `plain`, backticks made `'`,
    (in a table cell) `|` escaped; an empty value is a dash, never an empty span."""
    inner = plain(value, width).strip().replace("`", "'")
    inner = inner.replace("|", "\\|") if table else inner
    return Markup(f"`{inner}`") if inner else Markup("–")


def url(value: Any) -> Markup:
    """A link target dvbuild built (GitHub's server URL, repository, run id, commit):
    http(s) only, percent-encoded so it cannot end the link early."""
    link = str(value or "")
    if not re.match(r"https?://", link):
        return Markup("#")
    return Markup(quote(link, safe=":/?=&%#+,;~@!$*'-._"))


def cell(value: Any) -> Markup:
    """A value made safe for a Markdown table cell: one line, escaped, short."""
    return text(value, CELL_CHARS)


def one_line(value: Any, width: int = 200) -> str:
    """Untrusted text cut to one line of `width` characters (escaped when printed)."""
    return "" if value is None or value == "" else plain(value, width).strip()


def _finalize(value: Any) -> Any:
    """Every `{{ value }}` in the comment templates: escaped, unless dvbuild made it (Markup)."""
    return value if isinstance(value, Markup) else text(value)


def traceback_block(lines: Sequence[str]) -> Markup:
    """Traceback lines for a fenced code block (`fence` makes the fence longer than any
    run of backticks inside): masked, no ANSI codes or control characters, each line capped."""
    kept = []
    for line in "\n".join(lines).split("\n"):
        line = CONTROL_RE.sub("", INVISIBLE_RE.sub("", ANSI_RE.sub("", console.redact(line))))
        kept.append(line if len(line) <= TRACEBACK_CHARS else line[: TRACEBACK_CHARS - 1] + "…")
    return Markup("\n".join(kept))


def fmt_duration(seconds: Any) -> str:
    if seconds is None:
        return "–"
    s = float(seconds)
    if s < 60:
        return f"{s:.1f}s"
    minutes, rest = divmod(int(round(s)), 60)
    return f"{minutes}m {rest:02d}s" if minutes < 60 else f"{minutes // 60}h {minutes % 60:02d}m"


def fmt_bytes(n: Any) -> str:
    if n is None:
        return "–"
    size = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if abs(size) < 1000 or unit == "GB":
            return f"{int(size)} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"


def fmt_count(n: Any) -> str:
    return "–" if n is None else f"{int(n):,}".replace(",", " ")


def fmt_delta(n: Any, fmt: Any) -> str:
    """'+1.2 kB' / '−340' / '±0'; '' when there is nothing to compare with."""
    if n is None:
        return ""
    if n == 0:
        return "±0"
    return ("+" if n > 0 else "−") + str(fmt(abs(n)))


def resource_changes(
    resource: Mapping[str, Any], manifest: Mapping[str, Any] | None
) -> dict[str, Any]:
    """A report resource with its change against the last published manifest:
    rows_delta, bytes_delta, and each column marked added/retyped, plus removed ones."""
    result: dict[str, Any] = dict(resource)
    columns = [dict(c) for c in resource.get("columns") or [] if isinstance(c, Mapping)]
    result.update(columns=columns, removed=[], rows_delta=None, bytes_delta=None, new=False)
    if manifest is None:
        return result
    before = previous_resources(manifest).get(str(resource.get("name")))
    if before is None:
        result["new"] = True
        return result
    for key in ("rows", "bytes"):
        if resource.get(key) is not None and before.get(key) is not None:
            result[f"{key}_delta"] = int(resource[key]) - int(before[key])
    old = {str(c.get("name")): str(c.get("type") or "") for c in before.get("columns") or []}
    for c in columns:
        name = str(c.get("name"))
        if name not in old:
            c["change"] = "added"
        elif old[name] and str(c.get("type") or "") != old[name]:
            c["change"] = f"was {old[name]}"
    now = {str(c.get("name")) for c in columns}
    result["removed"] = [n for n in old if n not in now]
    return result


def previous_resources(manifest: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Resources of a published _manifest.json by name, with rows, bytes and columns
    (columns from `columns` or the Table Schema `schema.fields`)."""
    sizes = {str(f.get("path")): f.get("bytes") for f in manifest.get("files") or []
             if isinstance(f, Mapping)}
    found: dict[str, dict[str, Any]] = {}
    for res in manifest.get("resources") or []:
        if not isinstance(res, Mapping) or "name" not in res:
            continue
        fields = res.get("columns") or (res.get("schema") or {}).get("fields") or []
        found[str(res["name"])] = {
            "rows": res.get("rows"),
            "bytes": res.get("bytes", sizes.get(str(res.get("path")))),
            "columns": [f for f in fields if isinstance(f, Mapping)],
        }
    return found


def _render(name: str, context: Mapping[str, Any]) -> str:
    env = templating.environment(trim_blocks=True, finalize=_finalize,
                                 filters={"code": code, "url": url})
    return templating.render(name, context, env)
