"""The audit trail in Polish: every action the program records has its sentence, found by
reading the program's own audit calls (a new action without a sentence fails here), and
the sentences say amounts, places and files as a librarian reads them, never a code."""

from __future__ import annotations

import ast
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import empikgo_mailer
from empikgo_mailer.domain.audit_sentences import (
    ACTIONS,
    AuditEntry,
    AuditNames,
    action_label,
    actor_text,
    moment_short,
    sentence,
)
from empikgo_mailer.handlers.set_aside import SetAsideAction

PACKAGE = Path(empikgo_mailer.__file__).parent
NAMES = AuditNames(
    platforms={"empik-go": "Empik Go", "legimi": "Legimi"},
    branches={"w63": "Wypożyczalnia nr 63", "multimedia": "Wypożyczalnia Multimedialna"},
    locations={"multimedia": "Wypożyczalnia Multimedialna"},
)
# The f-strings audit calls build an action from: the prefix and every value it takes.
DYNAMIC = {"set-aside-": [action.value for action in SetAsideAction]}


class _Unresolved(Exception):
    pass


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}


def _function_of(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> ast.FunctionDef | None:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.FunctionDef):
            return node
    return None


def _values(
    expr: ast.expr, tree: ast.Module, parents: dict[ast.AST, ast.AST], depth: int = 0
) -> set[str]:
    """Every string `expr` can be: constants, both sides of a conditional, f-strings of a
    known prefix, and names assigned in the function or passed to it by its callers."""
    if depth > 5:
        raise _Unresolved(ast.unparse(expr))
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return {expr.value}
    if isinstance(expr, ast.IfExp):
        return _values(expr.body, tree, parents, depth) | _values(expr.orelse, tree, parents, depth)
    if isinstance(expr, ast.JoinedStr):
        prefix = "".join(str(part.value) for part in expr.values if isinstance(part, ast.Constant))
        if prefix in DYNAMIC:
            return {prefix + value for value in DYNAMIC[prefix]}
    if isinstance(expr, ast.Name):
        function = _function_of(expr, parents)
        if function is not None:
            return _name_values(expr.id, function, tree, parents, depth + 1)
    raise _Unresolved(ast.unparse(expr))


def _name_values(
    name: str,
    function: ast.FunctionDef,
    tree: ast.Module,
    parents: dict[ast.AST, ast.AST],
    depth: int,
) -> set[str]:
    assigned = [
        node.value
        for node in ast.walk(function)
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
    ]
    if assigned:
        return set().union(*(_values(value, tree, parents, depth) for value in assigned))
    parameters = [a.arg for a in (*function.args.posonlyargs, *function.args.args)]
    if name not in parameters + [a.arg for a in function.args.kwonlyargs]:
        raise _Unresolved(name)
    position = parameters.index(name) if name in parameters else None
    found: set[str] = set()
    for call in ast.walk(tree):
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)):
            continue
        if call.func.id != function.name:
            continue
        given = [k.value for k in call.keywords if k.arg == name]
        if not given and position is not None and position < len(call.args):
            given = [call.args[position]]
        for value in given:
            found |= _values(value, tree, parents, depth)
    if not found:
        raise _Unresolved(name)
    return found


def recorded_actions() -> dict[str, str]:
    """Every action the program's code records, with the module that records it."""
    actions: dict[str, str] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == PACKAGE / "adapters" / "store.py":
            continue  # writes what its callers give (Store.audit, audit_import), records none
        tree = ast.parse(path.read_text(encoding="utf-8"))
        parents = _parents(tree)
        where = str(path.relative_to(PACKAGE))
        for node in ast.walk(tree):
            expressions: list[ast.expr] = []
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                if node.func.attr == "audit":
                    expressions += [k.value for k in node.keywords if k.arg == "action"]
                elif node.func.attr == "audit_import" and node.args:
                    expressions.append(node.args[0])
            elif isinstance(node, ast.Dict):
                expressions += [
                    value
                    for key, value in zip(node.keys, node.values, strict=True)
                    if isinstance(key, ast.Constant)
                    and key.value == "action"
                    and _function_of(node, parents) is not None
                    and "audit" in _function_of(node, parents).name  # type: ignore[union-attr]
                ]
            for expression in expressions:
                try:
                    values = _values(expression, tree, parents)
                except _Unresolved as unresolved:
                    pytest.fail(f"{where}: cannot tell which action {unresolved} is; teach "
                                "this test (DYNAMIC) or record a plain string")  # fmt: skip
                actions.update(dict.fromkeys(values, where))
    return actions


def test_the_scan_finds_the_actions_it_must_find() -> None:
    found = recorded_actions()
    for action in ("give-code", "pay-fine", "set-aside-refuse", "hold-loan", "release-hold",
                   "import-codes", "service-off", "login", "close-month"):  # fmt: skip
        assert action in found, action


def test_every_recorded_action_has_its_sentence_and_label() -> None:
    missing = {a: where for a, where in recorded_actions().items() if a not in ACTIONS}
    assert missing == {}, "give these actions a sentence in domain/audit_sentences.py"
    for action in ACTIONS:
        assert action_label(action) != action
        text = sentence(AuditEntry(action, "done", "1000012", {}), NAMES)
        assert text[0].isupper() and text.endswith("."), text
        assert not re.search(r"[a-z]+-[a-z]+|_", text), text  # no machine words left


def entry(
    action: str, outcome: str = "done", card: str | None = "1000012", **details: object
) -> AuditEntry:
    return AuditEntry(action, outcome, card, details)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            entry("pay-fine", "counted", location="multimedia", method="cash", amount_grosze=120),
            "Przyjęto wpłatę 1,20 zł gotówką od czytelnika z kartą 1000012 "
            "(Wypożyczalnia Multimedialna).",
        ),
        (
            entry(
                "pay-fine", "pending", location="multimedia", method="transfer", amount_grosze=1250
            ),
            "Zapisano wpłatę 12,50 zł przelewem od czytelnika z kartą 1000012 "
            "(Wypożyczalnia Multimedialna); czeka na zaksięgowanie.",
        ),
        (
            entry(
                "pay-fine",
                "refused",
                location="multimedia",
                method="cash",
                amount_grosze=120,
                desk_branch="w63",
            ),
            "Nie przyjęto wpłaty 1,20 zł gotówką od czytelnika z kartą 1000012 "
            "(Wypożyczalnia Multimedialna): tej biblioteki nie obsługuje placówka "
            "Wypożyczalnia nr 63.",
        ),
        (
            entry(
                "give-code", "issued", platform="empik-go", channel="desk", branch="w63", code_id=39
            ),
            "Wydano kod Empik Go czytelnikowi z kartą 1000012 w placówce (Wypożyczalnia nr 63).",
        ),
        (
            entry(
                "give-code", "debt", platform="legimi", channel="email", branch="w63", code_id=None
            ),
            "Odmówiono kodu Legimi czytelnikowi z kartą 1000012 e-mailem (Wypożyczalnia nr 63): "
            "zadłużenie.",
        ),
        (
            entry("set-aside-refuse", "card-missing", None, request=17, branch="w63"),
            "Wiadomość odłożona dla obsługi nr 17 (Wypożyczalnia nr 63): wysłano odmowę "
            "„brak numeru karty”.",
        ),
        (
            entry(
                "import-codes",
                card=None,
                file="pula listopad.xlsx",
                platform="empik-go",
                month="2026-11",
                branch="w63",
                loaded=4,
                refused=1,
            ),
            "Wczytano pulę Empik Go na listopad 2026 (Wypożyczalnia nr 63) z pliku "
            "„pula listopad.xlsx”: wczytane kody 4, odrzucone linie 1.",
        ),
        (
            entry("service-off", card=None, platform="legimi", reason="awaria"),
            "Wyłączono usługę Legimi; powód: „awaria”.",
        ),
        (
            entry("login", "throttled", None),
            "Odmowa logowania: zbyt wiele nieudanych prób z tego adresu.",
        ),
        (
            entry("hold-loan", barcode="0000555501", location="multimedia"),
            "Oznaczono egzemplarz 0000555501 czytelnika z kartą 1000012 jako zamówiony przez "
            "innego czytelnika (Wypożyczalnia Multimedialna).",
        ),
    ],
)
def test_sentences_read_as_a_librarian_says_them(given: AuditEntry, expected: str) -> None:
    assert sentence(given, NAMES) == expected


def test_a_code_is_never_named_not_even_by_its_id() -> None:
    text = sentence(
        entry("give-code", "issued", platform="legimi", channel="email", code_id=987654), NAMES
    )
    assert "987654" not in text


def test_an_unknown_action_still_reads() -> None:
    assert sentence(entry("new-thing", "refused"), NAMES) == "Działanie „new-thing”: odmowa."


def test_who_and_when_in_words() -> None:
    assert actor_text("staff:anna", NAMES) == "anna"
    assert actor_text("mail:w63", NAMES) == "poczta (Wypożyczalnia nr 63)"
    assert actor_text("cli", NAMES) == "wiersz poleceń"
    at = datetime(2026, 11, 2, 10, 3, tzinfo=ZoneInfo("Europe/Warsaw"))
    assert moment_short(at) == "2 lis 2026, 10:03"
