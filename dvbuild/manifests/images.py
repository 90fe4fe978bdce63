"""Which image a job runs: `--image` (with `{name}`/`{hash}` placeholders), else the
tag the image step gives it (registry/name:input hash)."""

from __future__ import annotations

import re
from collections.abc import Callable

from dvbuild.detect.inputs import head_input_hash
from dvbuild.image.naming import image_ref
from dvbuild.package import Package
from dvbuild.settings import Settings

IMAGE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@+-]{0,510}$")  # loose: no spaces, no controls


def image_source(settings: Settings, image: str | None) -> Callable[[Package], str]:
    """--image (with optional {name}/{hash} placeholders), else the image step's tag."""
    if image is not None:
        def given(p: Package) -> str:
            if "{hash}" in image:
                return image.replace("{name}", p.name).replace("{hash}", head_input_hash(settings, p))
            return image.replace("{name}", p.name)
        return given
    return lambda p: image_ref(settings, p)
