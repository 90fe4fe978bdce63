from __future__ import annotations

import jinja2
import pytest

from dvbuild import templating


def test_templates_dir_holds_every_renderers_templates() -> None:
    folder = templating.templates_dir()
    for name in ("Dockerfile.j2", "comment.md.j2", "summary.md.j2", "package/datapackage.json.j2",
                 "workflow/dvbuild.yml"):
        assert (folder / name).is_file(), name


def test_a_missing_value_is_an_error_not_an_empty_string() -> None:
    with pytest.raises(jinja2.UndefinedError):
        templating.render("package/README.md.j2", {"name": "x"})


def test_options_per_caller() -> None:
    env = templating.environment(filters={"shout": str.upper}, finalize=lambda v: f"<{v}>",
                                 trim_blocks=True)
    template = env.from_string("{% if x %}\n  {{ x | shout }}\n{% endif %}\n")
    assert template.render(x="hi") == "  <HI>\n"
    assert templating.environment().from_string("a\n").render() == "a\n"  # trailing newline kept
