"""The audit trail on both databases: a switch that changes nothing is not recorded, pages
of events go back in time without overlap, and the trail reads back as Polish sentences."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import col, select

from empikgo_mailer.adapters.tables import AuditEvent
from empikgo_mailer.bootstrap import App
from empikgo_mailer.domain.audit_sentences import AuditEntry, AuditNames, sentence
from empikgo_mailer.domain.platforms import Platform
from empikgo_mailer.handlers.audit_log import ShowAudit
from empikgo_mailer.handlers.service import SwitchService

WARSAW = ZoneInfo("Europe/Warsaw")
START = datetime(2027, 1, 4, 9, 0, tzinfo=WARSAW)


def switches(app: App) -> list[AuditEvent]:
    with app.uow() as uow:
        actions = ["service-on", "service-off"]
        statement = select(AuditEvent).where(col(AuditEvent.action).in_(actions))
        return list(uow.session.exec(statement))


def test_a_switch_to_the_state_already_in_place_is_not_recorded(app: App) -> None:
    def switch(enabled: bool, reason: str | None, minutes: int) -> bool:
        command = SwitchService(Platform.LEGIMI, enabled, reason, actor="staff:kierownik")
        changed = app.handle(command, now=START + timedelta(minutes=minutes))
        assert isinstance(changed, bool)
        return changed

    assert not switch(True, None, 0)  # on from the start: nothing to record
    assert switch(False, "Koniec środków", 1)
    assert not switch(False, "Koniec środków", 2)  # a form sent twice, a scanner
    assert not switch(False, "  Koniec środków ", 3)
    assert switch(False, "Awaria Legimi", 4)  # a new reason is news
    assert switch(True, None, 5)
    assert not switch(True, "już działa", 6)
    recorded = [(e.action, json.loads(e.details)["reason"]) for e in switches(app)]
    assert sorted(recorded) == sorted(
        [
            ("service-off", "Koniec środków"),
            ("service-off", "Awaria Legimi"),
            ("service-on", None),
        ]
    )


def test_pages_of_events_go_back_without_overlap_and_read_in_polish(app: App) -> None:
    for n in range(7):
        enabled = n % 2 == 1
        app.handle(
            SwitchService(Platform.LEGIMI, enabled, None if enabled else f"powód {n}",
                          actor="staff:kierownik"),
            now=START + timedelta(minutes=n),
        )  # fmt: skip
    pages = [
        app.handle(ShowAudit("staff:kierownik", limit=3, offset=offset), now=START)
        for offset in (0, 3, 6)
    ]
    assert [len(p) for p in pages] == [3, 3, 1]
    seen = [e.id for page in pages for e in page]
    assert len(set(seen)) == 7
    times = [e.at for page in pages for e in page]
    assert times == sorted(times, reverse=True)
    newest = pages[0][0]
    names = AuditNames(platforms={"legimi": "Legimi"})
    entry = AuditEntry(newest.action, newest.outcome, None, json.loads(newest.details))
    assert sentence(entry, names) == "Wyłączono usługę Legimi; powód: „powód 6”."
