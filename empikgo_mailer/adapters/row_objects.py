"""Row objects built without SQLModel's constructor, for rows written with Core statements.

SQLModel's `__init__` sets every column through SQLAlchemy's attribute events and then
pydantic's `__setattr__`: about 65 µs for a 30-column row, more than reading the e-mail
it describes. A row that only carries values to a bulk INSERT needs none of that; built
here it costs about 2 µs and still behaves as a transient row (attributes read and set
as usual, and a session could still add it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from typing import Any, TypeVar

from sqlalchemy.orm import configure_mappers
from sqlmodel import SQLModel

M = TypeVar("M", bound=SQLModel)


@cache
def _defaults(model: type[SQLModel]) -> tuple[dict[str, Any], dict[str, Callable[[], Any]]]:
    """The model's fixed defaults, and its default factories (called for each row)."""
    # A bare row's attributes work only on configured mappers; a query or a constructor
    # would configure them, and a bare row may come first.
    configure_mappers()
    fixed: dict[str, Any] = {}
    factories: dict[str, Callable[[], Any]] = {}
    for name, field in model.model_fields.items():
        if field.default_factory is not None:
            factories[name] = field.default_factory  # type: ignore[assignment]
        elif not field.is_required():
            fixed[name] = field.default
    return fixed, factories


def bare_row(model: type[M], values: Mapping[str, Any]) -> M:
    """A `model` row holding `values` and the model's defaults for the other columns,
    exactly as `model(**values)` would hold them."""
    fixed, factories = _defaults(model)
    row = model._sa_class_manager.new_instance()  # type: ignore[attr-defined]
    state = row.__dict__
    state.update(fixed)
    for name, factory in factories.items():
        state[name] = factory()
    state.update(values)
    # What pydantic's own constructor leaves on an instance (repr and dumps read them).
    object.__setattr__(row, "__pydantic_fields_set__", set(values))
    object.__setattr__(row, "__pydantic_extra__", None)
    object.__setattr__(row, "__pydantic_private__", None)
    return row  # type: ignore[no-any-return]
