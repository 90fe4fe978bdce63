"""Image: one Docker image per data package, through an `Engine` (adapters/docker.py).

    naming      the repository and tags of a package's image (`image_ref`: the one builder)
    dockerfile  the package's own Dockerfile, or templates/Dockerfile.j2 rendered (pure)
    context     the build context: package files, depends_on, the dvbuild wheel, CA bundle
    plan        target + Dockerfile + context + labels, before any engine is involved
    build       skip when the content-hash tag exists, else build (+ push)
    container   start an image through its entrypoint, as its Naisjob does
    testrun     `dvbuild test --image`: the test run in the built image
    prodrun     `dvbuild run --image`: the production run (and publish) in a pushed image

A dry run is "plan and print": `plan()` reads only the repository.
"""
