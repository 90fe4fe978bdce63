"""GitHub REST contract tests: pytest-httpserver answers as api.github.com does
(issue comments listed with Link pagination, created, edited; pull requests read).
The test marked `github` runs against the real API when a token and repo are given."""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from dvbuild.adapters.github import PullRequests
from dvbuild.comment.markdown import MARKER
from dvbuild.errors import ServiceError

REPO = "octo-org/data-monorepo"
TOKEN = "ghs_testtoken0123456789"


@dataclass
class GitHubAPI:
    """The slice of GitHub's REST API that comments use, with GitHub's paging rules."""

    server: HTTPServer
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    heads: dict[int, str] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    fail: dict[str, int] = field(default_factory=dict)  # "METHOD path-regex" -> status
    next_id: int = 1_000_000

    @property
    def url(self) -> str:
        return self.server.url_for("").rstrip("/")

    def add_comments(self, number: int, bodies: list[str]) -> None:
        for body in bodies:
            self._new(number, body)

    def _new(self, number: int, body: str) -> dict[str, Any]:
        self.next_id += 1
        cid = self.next_id
        comment = {
            "id": cid, "node_id": f"IC_{cid}",
            "url": f"{self.url}/repos/{REPO}/issues/comments/{cid}",
            "html_url": f"https://github.com/{REPO}/pull/{number}#issuecomment-{cid}",
            "issue_url": f"{self.url}/repos/{REPO}/issues/{number}",
            "body": body, "user": {"login": "github-actions[bot]", "id": 41898282, "type": "Bot"},
            "created_at": "2026-11-26T01:00:00Z", "updated_at": "2026-11-26T01:00:00Z",
            "author_association": "NONE",
        }
        self.comments.setdefault(number, []).append(comment)
        return comment

    def handle(self, request: Request, path: str | None = None) -> Response:
        path = path or request.path
        self.requests.append((request.method, request.full_path))
        for rule, status in self.fail.items():
            method, pattern = rule.split(" ", 1)
            if request.method == method and re.search(pattern, path):
                return _json({"message": "Resource not accessible by integration",
                              "documentation_url": "https://docs.github.com/rest"}, status)
        if request.headers.get("Authorization") != f"token {TOKEN}" and \
                request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return _json({"message": "Bad credentials"}, 401)
        if m := re.fullmatch(rf"/repos/{REPO}/issues/(\d+)/comments", path):
            number = int(m[1])
            if request.method == "GET":
                return self._page(number, request)
            body = json.loads(request.get_data())["body"]
            if len(body) > 65536:
                return _json({"message": "Validation Failed", "errors": [
                    {"resource": "IssueComment", "code": "custom", "field": "body",
                     "message": "body is too long (maximum is 65536 characters)"}]}, 422)
            return _json(self._new(number, body), 201)
        if (m := re.fullmatch(rf"/repos/{REPO}/issues/comments/(\d+)", path)) and \
                request.method == "PATCH":
            for comments in self.comments.values():
                for c in comments:
                    if c["id"] == int(m[1]):
                        c["body"] = json.loads(request.get_data())["body"]
                        c["updated_at"] = "2026-11-26T02:00:00Z"
                        return _json(c)
            return _json({"message": "Not Found"}, 404)
        if (m := re.fullmatch(rf"/repos/{REPO}/pulls/(\d+)", path)) and int(m[1]) in self.heads:
            return _json({"number": int(m[1]), "state": "open",
                          "head": {"sha": self.heads[int(m[1])], "ref": "feature"},
                          "base": {"sha": "0" * 40, "ref": "main"}})
        return _json({"message": "Not Found",
                      "documentation_url": "https://docs.github.com/rest"}, 404)

    def _page(self, number: int, request: Request) -> Response:
        query = parse_qs(urlparse(request.full_path).query)
        per_page = min(int(query.get("per_page", ["30"])[0]), 100)
        page = int(query.get("page", ["1"])[0])
        items = self.comments.get(number, [])
        last = max(1, -(-len(items) // per_page))
        response = _json(items[(page - 1) * per_page: page * per_page])
        links = []
        # GitHub's Link header points at /repositories/<id>/..., not /repos/<owner>/<name>.
        base = f"{self.url}/repositories/123456/issues/{number}/comments?per_page={per_page}"
        if page < last:
            links += [f'<{base}&page={page + 1}>; rel="next"', f'<{base}&page={last}>; rel="last"']
        if page > 1:
            links += [f'<{base}&page=1>; rel="first"', f'<{base}&page={page - 1}>; rel="prev"']
        if links:
            response.headers["Link"] = ", ".join(links)
        return response


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data), status=status, content_type="application/json; charset=utf-8",
                    headers={"X-GitHub-Api-Version-Selected": "2022-11-28"})


@pytest.fixture
def github_api(httpserver: HTTPServer) -> Iterator[GitHubAPI]:
    api = GitHubAPI(httpserver)

    def route(request: Request) -> Response:
        # /repositories/<id>/... (the Link header's form) is the same repository.
        return api.handle(request, request.path.replace(
            "/repositories/123456/", f"/repos/{REPO}/", 1))

    httpserver.expect_request(re.compile(".*")).respond_with_handler(route)
    yield api


def prs(api: GitHubAPI) -> PullRequests:
    return PullRequests(api.url, TOKEN, REPO)


def test_creates_the_comment_when_none_has_the_marker(github_api: GitHubAPI) -> None:
    github_api.add_comments(7, ["LGTM", "please rebase"])
    posted = prs(github_api).upsert_comment(7, f"{MARKER}\nhello", MARKER)
    assert posted.action == "created"
    assert github_api.comments[7][-1]["body"] == f"{MARKER}\nhello"
    assert posted.url.endswith(f"#issuecomment-{posted.id}")


def test_finds_the_marker_on_the_third_page_and_edits_it(github_api: GitHubAPI) -> None:
    bodies = [f"comment {i}" for i in range(250)]
    bodies[230] = f"{MARKER}\nold"
    github_api.add_comments(9, bodies)
    posted = prs(github_api).upsert_comment(9, f"{MARKER}\nnew", MARKER)
    assert posted.action == "updated"
    assert github_api.comments[9][230]["body"] == f"{MARKER}\nnew"
    assert len(github_api.comments[9]) == 250  # nothing created
    pages = [p for m, p in github_api.requests if m == "GET" and "comments" in p]
    assert len(pages) == 3 and "page=3" in pages[-1]
    assert not [m for m, _ in github_api.requests if m == "POST"]


def test_rerun_with_the_same_body_changes_nothing(github_api: GitHubAPI) -> None:
    first = prs(github_api).upsert_comment(3, f"{MARKER}\nsame", MARKER)
    again = prs(github_api).upsert_comment(3, f"{MARKER}\nsame", MARKER)
    assert (first.action, again.action) == ("created", "unchanged")
    assert first.id == again.id
    assert [m for m, _ in github_api.requests].count("PATCH") == 0


def test_a_quoted_marker_in_someone_elses_comment_is_not_ours(github_api: GitHubAPI) -> None:
    github_api.add_comments(4, [f"> quoting the bot\n{MARKER}"])
    assert prs(github_api).upsert_comment(4, f"{MARKER}\nx", MARKER).action == "created"


def test_read_only_token_is_a_service_error_with_a_hint(github_api: GitHubAPI) -> None:
    github_api.fail["POST /issues/5/comments"] = 403
    with pytest.raises(ServiceError) as e:
        prs(github_api).upsert_comment(5, f"{MARKER}\nx", MARKER)
    assert "403" in str(e.value) and "Resource not accessible" in str(e.value)
    assert "pull-requests: write" in e.value.hint


def test_bad_token(github_api: GitHubAPI) -> None:
    with pytest.raises(ServiceError) as e:
        PullRequests(github_api.url, "wrong", REPO).upsert_comment(5, "x", MARKER)
    assert "401" in str(e.value)


def test_head_sha_of_a_pull_request(github_api: GitHubAPI) -> None:
    github_api.heads[11] = "a" * 40
    assert prs(github_api).head_sha(11) == "a" * 40


def test_enterprise_api_url_with_a_path_prefix(httpserver: HTTPServer) -> None:
    api = GitHubAPI(httpserver)

    def route(request: Request) -> Response:
        assert request.path.startswith("/api/v3/")
        return api.handle(request, request.path[len("/api/v3"):])

    httpserver.expect_request(re.compile("/api/v3/.*")).respond_with_handler(route)
    posted = PullRequests(api.url + "/api/v3", TOKEN, REPO).upsert_comment(2, f"{MARKER}\n", MARKER)
    assert posted.action == "created"


@pytest.mark.github
def test_real_github_comment_roundtrip() -> None:
    """Against the real API: DVBUILD_TEST_GITHUB_TOKEN and DVBUILD_TEST_GITHUB_REPO
    (owner/name); DVBUILD_TEST_GITHUB_PR names a PR or issue to use, else a
    throwaway issue is opened and closed again."""
    token = os.environ.get("DVBUILD_TEST_GITHUB_TOKEN")
    repo = os.environ.get("DVBUILD_TEST_GITHUB_REPO")
    if not (token and repo):
        pytest.skip("set DVBUILD_TEST_GITHUB_TOKEN and DVBUILD_TEST_GITHUB_REPO (owner/name)")
    import github

    api_url = os.environ.get("GITHUB_API_URL", "https://api.github.com")
    client = github.Github(base_url=api_url, auth=github.Auth.Token(token))
    given = os.environ.get("DVBUILD_TEST_GITHUB_PR")
    issue = client.get_repo(repo).get_issue(int(given)) if given else \
        client.get_repo(repo).create_issue("dvbuild comment test (closed by the test)")
    marker = f"<!-- dvbuild-test-{uuid.uuid4().hex} -->"
    real = PullRequests(api_url, token, repo)
    first = real.upsert_comment(issue.number, f"{marker}\nfirst", marker)
    try:
        second = real.upsert_comment(issue.number, f"{marker}\nsecond", marker)
        third = real.upsert_comment(issue.number, f"{marker}\nsecond", marker)
        assert (first.action, second.action, third.action) == ("created", "updated", "unchanged")
        assert first.id == second.id == third.id
    finally:
        issue.get_comment(first.id).delete()
        if not given:
            issue.edit(state="closed")
