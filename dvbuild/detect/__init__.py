"""Detect: a push or pull request → the package folders it changed.

    events     the GitHub event → base and head (push, pull_request, workflow_dispatch, ...)
    refs       base/head resolved to commits, shallow clones deepened until they meet
    tree       which folders hold a datapackage.json (git ls-tree), descriptors read lazily
    globs      dvbuild.yaml's `global`/`ignore` and `depends_on` patterns (gitignore style)
    selection  changed paths → packages with their reasons (`select()` is pure)
    inputs     the input content hash of a package (what image tags and publishes record)
    since      --since-published: packages whose input hash differs from the stored one
    shards     past --max-jobs packages: matrix entries balanced by last run durations
    cli        the fast path of `dvbuild detect` (no typer, few imports)
"""

MATRIX_LIMIT = 256  # jobs GitHub Actions runs from one matrix
DEFAULT_MAX_JOBS = 64
