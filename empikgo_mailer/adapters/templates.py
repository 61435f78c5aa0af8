"""Rendering the Polish texts in `templates/` with Jinja2.

StrictUndefined turns a missing value into an error here, so that a reader never sees an
empty gap or a placeholder where a code or a date should be.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape


class Templates:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.environment = Environment(
            loader=FileSystemLoader(directory),
            undefined=StrictUndefined,
            autoescape=select_autoescape(["html"]),
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def render(self, name: str, **context: Any) -> str:
        return self.environment.get_template(name).render(**context)
