"""Settings, read once: dvbuild.yaml + the environment + CLI flags -> one frozen object.

This is the only module that looks at environment variables, and only through
the mapping it is given (the CLI passes os.environ, tests pass a dict).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from dvbuild import gitio
from dvbuild.errors import ConfigError, DvbuildError, Problem, UsageError

CONFIG_FILE = "dvbuild.yaml"
MAX_CONFIG_BYTES = 1024 * 1024
DEFAULT_BASE_IMAGE = "python:3.11-slim"
CONFIG_KEYS = {
    "global": list, "ignore": list, "store": str, "test_store": str, "catalog": str, "registry": str,
    "base_image": str, "naisjob": dict, "vault": dict, "sources": dict,
}


class RepoConfig(NamedTuple):
    """The contents of dvbuild.yaml (every key optional)."""

    global_: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    store: str | None = None
    test_store: str | None = None  # what test runs' read_dp reads (default: store)
    catalog: str | None = None
    registry: str | None = None
    base_image: str = DEFAULT_BASE_IMAGE
    naisjob: Mapping[str, Any] = {}  # shared and never mutated (Mapping)
    vault: Mapping[str, Any] = {}
    sources: Mapping[str, Any] = {}


class GitHubContext(NamedTuple):
    """What GitHub Actions tells a step through its environment."""

    actions: bool = False
    event_name: str | None = None
    event_path: str | None = None
    output: str | None = None
    step_summary: str | None = None
    repository: str | None = None
    server_url: str = "https://github.com"
    api_url: str = "https://api.github.com"
    sha: str | None = None
    run_id: str | None = None
    token: str | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> GitHubContext:
        return cls(
            actions=environ.get("GITHUB_ACTIONS") == "true",
            event_name=environ.get("GITHUB_EVENT_NAME") or None,
            event_path=environ.get("GITHUB_EVENT_PATH") or None,
            output=environ.get("GITHUB_OUTPUT") or None,
            step_summary=environ.get("GITHUB_STEP_SUMMARY") or None,
            repository=environ.get("GITHUB_REPOSITORY") or None,
            server_url=environ.get("GITHUB_SERVER_URL") or "https://github.com",
            api_url=environ.get("GITHUB_API_URL") or "https://api.github.com",
            sha=environ.get("GITHUB_SHA") or None,
            run_id=environ.get("GITHUB_RUN_ID") or None,
            token=environ.get("GITHUB_TOKEN") or environ.get("INPUT_GITHUB_TOKEN") or None,
        )

    @property
    def run_url(self) -> str | None:
        """This workflow run's page (None outside GitHub Actions)."""
        if not (self.repository and self.run_id):
            return None
        return f"{self.server_url.rstrip('/')}/{self.repository}/actions/runs/{self.run_id}"


class RunImage(NamedTuple):
    """The image this process runs in: the Dockerfile sets DVBUILD_IMAGE_REF (the tag it
    was built as), the Naisjob sets DVBUILD_IMAGE_REF and, when its image is pinned by
    digest, DVBUILD_IMAGE_DIGEST. Both empty outside an image."""

    ref: str | None = None
    digest: str | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> RunImage:
        return cls(ref=environ.get("DVBUILD_IMAGE_REF") or None,
                   digest=environ.get("DVBUILD_IMAGE_DIGEST") or None)

    def as_dict(self) -> dict[str, str | None] | None:
        """`{"ref", "digest"}` for report.json, or None when not in an image."""
        return {"ref": self.ref, "digest": self.digest} if self.ref or self.digest else None


class Settings(NamedTuple):
    root: Path  # the monorepo folder (may be a subfolder of the git repository)
    git_root: Path
    config: RepoConfig
    github: GitHubContext
    environ: Mapping[str, str]  # for adapters that take credentials from the standard chains
    image: RunImage = RunImage()  # the image this process runs in, if any

    @property
    def prefix(self) -> str:
        """The monorepo's path inside the git repository ('' at the top, else 'a/b/')."""
        rel = self.root.relative_to(self.git_root).as_posix()
        return "" if rel == "." else rel + "/"


def find_root(repo: Path | None, cwd: Path, *, require_git: bool = True) -> tuple[Path, Path]:
    """(monorepo root, git root). Without --repo: the nearest folder with a dvbuild.yaml
    at or above cwd inside the git repository, else the git repository's top.
    Without `require_git`, a folder outside git is its own git root and the search for
    dvbuild.yaml goes up to the filesystem's root, else stays at the start."""
    start = (repo or cwd).resolve()
    if not start.is_dir():
        raise UsageError(f"{start}: not a directory")
    git_root = gitio.get_root(start) if require_git else _git_root(start)
    if repo is not None:
        return start, git_root or start
    for folder in (start, *start.parents):
        if (folder / CONFIG_FILE).is_file():
            return folder, git_root or folder
        if folder == git_root:
            break
    return git_root or start, git_root or start


def _git_root(folder: Path) -> Path | None:
    try:
        return gitio.get_root(folder)
    except DvbuildError:
        return None


def load_config(root: Path) -> RepoConfig:
    path = root / CONFIG_FILE
    if not path.is_file():
        return RepoConfig()
    try:
        data = _read_yaml(path)
    except RecursionError:  # PyYAML composes recursively
        raise ConfigError(Problem(CONFIG_FILE, "YAML nested too deeply",
                                  expected="a mapping of settings")) from None
    problems = list(_config_problems(data, CONFIG_FILE))
    if problems:
        from dvbuild.validate.positions import yaml_positions

        text = path.read_text(encoding="utf-8")
        where = yaml_positions(text, [p.pointer for p in problems])
        problems = [Problem(p.file, p.message, p.pointer, line=where.get(p.pointer, (None, 0))[0],
                            column=where.get(p.pointer, (0, None))[1], expected=p.expected)
                    for p in problems]
        raise ConfigError(problems)
    return RepoConfig(
        global_=tuple(data.get("global") or ()),
        ignore=tuple(data.get("ignore") or ()),
        store=data.get("store"),
        test_store=data.get("test_store"),
        catalog=data.get("catalog"),
        registry=data.get("registry"),
        base_image=data.get("base_image") or DEFAULT_BASE_IMAGE,
        naisjob=data.get("naisjob") or {},
        vault=data.get("vault") or {},
        sources=data.get("sources") or {},
    )


def _read_yaml(path: Path) -> dict[str, Any]:
    """dvbuild.yaml through the one YAML reader: no aliases, no duplicate keys, JSON data."""
    from dvbuild.util import read_json_text
    from dvbuild.validate.yamlio import parse_yaml_object

    text = read_json_text(path, path.name, what="key: value pairs", max_bytes=MAX_CONFIG_BYTES)
    return parse_yaml_object(text, path.name, what="a mapping of key: value pairs")


def _config_problems(data: Mapping[str, Any], file: str) -> list[Problem]:
    problems = []
    for key, value in data.items():
        if key not in CONFIG_KEYS:
            import difflib  # only for a typo in dvbuild.yaml

            near = difflib.get_close_matches(str(key), CONFIG_KEYS, n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            problems.append(Problem(file, f"unknown key {key!r}{hint}", pointer=f"/{key}",
                                    expected="one of " + ", ".join(sorted(CONFIG_KEYS))))
            continue
        want = CONFIG_KEYS[key]
        if value is not None and not isinstance(value, want):
            problems.append(Problem(file, f"{key} is {type(value).__name__}", pointer=f"/{key}",
                                    expected={list: "a list", dict: "a mapping", str: "a string"}[want]))
        elif want is list and value:
            for i, item in enumerate(value):
                if not isinstance(item, str):
                    problems.append(Problem(file, "glob is not a string", pointer=f"/{key}/{i}",
                                            expected="a string"))
        elif key == "base_image" and value is not None:
            problems += _base_image_problems(value, file)
        elif key == "sources" and value:
            # each source: {url: "driver://user:${SECRET}@host/db"}; placeholders filled at run time
            for name, source in value.items():
                url = source.get("url") if isinstance(source, dict) else None
                if not isinstance(url, str) or not url:
                    problems.append(Problem(file, f"source {name!r} has no url",
                                            pointer=f"/sources/{name}",
                                            expected="a mapping with url: (a SQLAlchemy URL)"))
    return problems


def _base_image_problems(value: str, file: str) -> list[Problem]:
    """The FROM line's image: the rule the Dockerfile applies (image/naming.py)."""
    from dvbuild.image.naming import REFERENCE_RULE, reference_problem

    why = reference_problem(value)
    return [Problem(file, f"base_image {why}", pointer="/base_image",
                    expected=REFERENCE_RULE)] if why else []


# Environment variables that win over dvbuild.yaml: the action's inputs arrive this way.
ENV_OVERRIDES = {
    "DVBUILD_STORE": "store", "DVBUILD_TEST_STORE": "test_store", "DVBUILD_CATALOG": "catalog",
    "DVBUILD_REGISTRY": "registry",
    "DVBUILD_BASE_IMAGE": "base_image",
}


def with_env_overrides(config: RepoConfig, environ: Mapping[str, str]) -> RepoConfig:
    changes: dict[str, Any] = {
        field: environ[var] for var, field in ENV_OVERRIDES.items() if environ.get(var)
    }
    return config._replace(**changes) if changes else config


def load_settings(
    repo: Path | None = None, *, environ: Mapping[str, str], cwd: Path | None = None,
    require_git: bool = True, config: RepoConfig | None = None,
) -> Settings:
    """The one way to build Settings. `require_git=False` works on a plain folder too
    (`dvbuild run` in an image); `config` stands in for dvbuild.yaml (validate goes on
    with an empty one when dvbuild.yaml is broken). The environment wins over either."""
    root, git_root = find_root(repo, cwd or Path.cwd(), require_git=require_git)
    return Settings(
        root=root,
        git_root=git_root,
        config=with_env_overrides(load_config(root) if config is None else config, environ),
        github=GitHubContext.from_environ(environ),
        environ=dict(environ),
        image=RunImage.from_environ(environ),
    )
