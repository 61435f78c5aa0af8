"""The dispatcher's registry: every command has a handler that takes it, and everything a
handler asks for by name is something `App` can give (no I/O here)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import typing

import pytest

import empikgo_mailer.handlers as package
from empikgo_mailer import bootstrap
from empikgo_mailer.bootstrap import HANDLERS
from empikgo_mailer.handlers.command import Command

GIVEN_BY_APP = {
    *("uow", "library", "debt_source", "render", "mail", "web", "passwords", "code_marks"),
    *("open_outbox", "links", "sender_lock", "smtp", "transport_factory"),  # the send runner's
}
GIVEN_BY_DOOR = {"now", "clock", "mailbox"}  # clock, mailbox: a runner's


@pytest.mark.parametrize("command", list(HANDLERS), ids=lambda c: c.__name__)
def test_each_handler_takes_its_command_first(command: type[Command[object]]) -> None:
    handler = HANDLERS[command]
    first = next(iter(inspect.signature(handler).parameters))
    assert typing.get_type_hints(handler)[first] is command


@pytest.mark.parametrize("command", list(HANDLERS), ids=lambda c: c.__name__)
def test_everything_a_handler_asks_for_is_given(command: type[Command[object]]) -> None:
    required, _ = bootstrap._wants(HANDLERS[command])
    assert set(required) <= GIVEN_BY_APP | GIVEN_BY_DOOR


def test_every_command_in_the_handlers_is_registered() -> None:

    commands = set()
    for module in pkgutil.iter_modules(package.__path__):
        loaded = importlib.import_module(f"{package.__name__}.{module.name}")
        commands |= {
            value
            for value in vars(loaded).values()
            if inspect.isclass(value) and issubclass(value, Command) and value is not Command
        }
    assert commands == set(HANDLERS)
