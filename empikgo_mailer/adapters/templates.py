"""Rendering the Polish texts (replies, the desk slip) with Jinja2.

The texts ship inside the package (`empikgo_mailer/templates/`), so a configuration file
anywhere works; a library's own `templates_dir` overrides any of them by name and falls
back to the packaged one for the rest.

StrictUndefined turns a missing value into an error here, so that a reader never sees an
empty gap or a placeholder where a code or a date should be.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape

PACKAGED = Path(__file__).resolve().parents[1] / "templates"


class Templates:
    def __init__(self, override: Path | None = None) -> None:
        directories = [override, PACKAGED] if override is not None else [PACKAGED]
        self.environment = Environment(
            loader=ChoiceLoader([FileSystemLoader(d) for d in directories]),
            undefined=StrictUndefined,
            autoescape=select_autoescape(["html"]),
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def render(self, name: str, **context: Any) -> str:
        return self.environment.get_template(name).render(**context)
