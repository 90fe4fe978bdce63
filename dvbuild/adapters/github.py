"""Pull request comments through GitHub's REST API (the only module importing PyGithub).

One comment per pull request, recognised by a hidden marker at its start. Every
page of comments is searched (busy PRs have more than the 30 GitHub returns at
first), and the comment is edited in place, so re-runs never pile up comments.
`api_url` is GITHUB_API_URL, so GitHub Enterprise Server works the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dvbuild.errors import MissingDependency, ServiceError

HINTS = {
    401: "the token was refused: is github-token set, and not expired?",
    403: "the token may not write comments: give the job `pull-requests: write`; pull "
         "requests from forks get a read-only token, so post from a workflow_run workflow",
    404: "no such repository or pull request, or the token cannot see it",
    422: "GitHub refused the comment body (too long?)",
}


@dataclass(frozen=True)
class Posted:
    action: str  # "created", "updated" or "unchanged"
    id: int
    url: str


@dataclass(frozen=True)
class PullRequests:
    """The pull requests of one repository, behind GitHub's REST API."""

    api_url: str
    token: str
    repository: str  # owner/name

    def upsert_comment(self, number: int, body: str, marker: str) -> Posted:
        """Update the comment that starts with `marker`, or create it."""
        issue = self._repo().get_issue(number)
        with _answers(f"comments of pull request #{number}"):
            existing = next((c for c in issue.get_comments()
                             if (c.body or "").lstrip().startswith(marker)), None)
            if existing is None:
                created = issue.create_comment(body)
                return Posted("created", created.id, created.html_url)
            if existing.body == body:
                return Posted("unchanged", existing.id, existing.html_url)
            existing.edit(body)
            return Posted("updated", existing.id, existing.html_url)

    def head_sha(self, number: int) -> str:
        """The head commit of a pull request (what was tested, not GitHub's merge commit)."""
        with _answers(f"pull request #{number}"):
            return str(self._repo().get_pull(number).head.sha)

    def _repo(self) -> Any:
        return _client(self.api_url, self.token).get_repo(self.repository)


def _client(api_url: str, token: str) -> Any:
    try:
        import github
        from urllib3.util.retry import Retry
    except ImportError:
        raise MissingDependency("PyGithub", "github") from None
    retry = Retry(total=3, backoff_factor=1, status_forcelist=(502, 503, 504),
                  allowed_methods=("GET", "PATCH"))
    return github.Github(
        base_url=api_url.rstrip("/"), auth=github.Auth.Token(token), per_page=100,
        retry=retry, seconds_between_requests=None, seconds_between_writes=None, lazy=True,
    )


class _answers:
    """Turn PyGithub's exceptions into a ServiceError naming what was asked, with a hint."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 _tb: object) -> None:
        import github

        if isinstance(error, github.GithubException):
            message = error.data.get("message") if isinstance(error.data, dict) else error.data
            raise ServiceError(f"GitHub answered {error.status} for {self.what}: {message}",
                               hint=HINTS.get(error.status, "")) from None
        if error is not None and "requests" in type(error).__module__:
            raise ServiceError(f"GitHub did not answer for {self.what}: {error}") from None
