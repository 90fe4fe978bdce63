"""The command line: parse, build Settings, call one step, map errors to exit codes.

Each subcommand lives in dvbuild/commands/<name>.py and registers itself with
`register(app)`. Command modules import heavy libraries inside the command
function, never at module level, so `dvbuild detect` starts fast.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from importlib import import_module
from typing import TYPE_CHECKING, Any

from dvbuild import console
from dvbuild.errors import ConfigError, DvbuildError

if TYPE_CHECKING:
    import typer

COMMANDS = (
    "detect", "validate", "init", "test", "run", "build", "publish", "versions",
    "render", "status", "lineage", "comment", "local",
)

_app: typer.Typer | None = None


def _make_app() -> typer.Typer:
    # typer (and click) cost ~0.1 s to import; built on first use so `detect` can skip it.
    import typer

    app = typer.Typer(
        name="dvbuild",
        help="CI builds for notebook data packages in a git monorepo.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )

    def _print_version(value: bool) -> None:
        if value:
            from dvbuild import __version__

            typer.echo(__version__)
            raise typer.Exit(0)

    @app.callback()
    def _root(
        version: bool = typer.Option(
            False, "--version", help="Print the version and exit.", is_eager=True,
            callback=_print_version,
        ),
    ) -> None:
        pass

    _register(app)
    return app


def get_app() -> typer.Typer:
    global _app
    if _app is None:
        _app = _make_app()
    return _app


def __getattr__(name: str) -> Any:
    if name == "app":  # `from dvbuild.cli import app` still works
        return get_app()
    raise AttributeError(name)


def _register(app: typer.Typer) -> None:
    for name in COMMANDS:
        import_module(f"dvbuild.commands.{name}").register(app)


def report(error: DvbuildError) -> None:
    """One readable message on stderr (and annotations under GitHub Actions)."""
    if isinstance(error, ConfigError):
        for p in error.problems:
            console.annotate("error", p.message, file=p.file, line=p.line)
    console.log(f"error: {error}")


def _fast_detect(args: list[str]) -> int | None:
    """`dvbuild detect` starts every CI job: plain option lists skip typer entirely."""
    if args[:1] != ["detect"]:
        return None
    from dvbuild.detect import cli as detect_cli

    opts = detect_cli.parse_fast(args[1:])
    if opts is None:
        return None
    return _guarded(lambda: detect_cli.run(opts, os.environ))


def _guarded(call: Callable[[], int]) -> int:
    """The one place expected failures become an exit code and a one-line message."""
    try:
        return call()
    except DvbuildError as e:
        report(e)
        return e.exit_code
    except KeyboardInterrupt:
        console.log("interrupted")
        return 130


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["--version"]:  # every CI job asks; the lean detect install has no typer
        from dvbuild import __version__

        print(__version__)
        return 0
    fast = _fast_detect(args)
    return fast if fast is not None else _guarded(lambda: _run_typer(args))


def _run_typer(args: list[str]) -> int:
    import typer

    try:
        result = get_app()(args=args, prog_name="dvbuild", standalone_mode=False)
    except typer.Exit as e:
        return int(e.exit_code)
    except typer.Abort:
        console.log("aborted")
        return 130
    except typer.TyperException as e:  # click's usage errors (typer vendors click)
        show = getattr(e, "show", None)
        if show is not None:
            show()
        return int(getattr(e, "exit_code", 2))
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
