"""What a librarian is offered for a message set aside for them, as Mailman offers a
moderator for a held message: the reason decides the action offered first, a refusal the
reader already got is never offered again, and automatic mail is only closed (answering
an auto-responder or a delivery report is how mail loops start). Pure: facts in, choices out.
"""

from __future__ import annotations

from dataclasses import dataclass

from empikgo_mailer.domain.mail_outcomes import CHOSEN_REFUSALS, MailOutcome

GIVE, REFUSE, DISMISS = "give", "refuse", "dismiss"  # the values of SetAsideAction

# Kinds of message nobody writes to: auto-replies, delivery reports, our own mail.
_AUTOMATIC_KINDS = frozenset({"automatic", "bounce"})


@dataclass(frozen=True)
class HeldFacts:
    """What the list knows of one set-aside message."""

    outcome: str | None  # why the daemon set it aside (mail_outcomes.SET_ASIDE_OUTCOMES)
    kind: str  # statuses.RequestKind
    sender: str | None  # None: no valid address to answer
    card: str | None  # the one card number found in the message
    cards: tuple[str, ...]  # every card number found (several: the librarian chooses)
    told: str | None = None  # the outcome whose reply the reader already got (or is getting)


@dataclass(frozen=True)
class HeldChoices:
    default: str  # GIVE, REFUSE or DISMISS: offered first
    can_give: bool
    refusals: tuple[str, ...]  # the refusals still offered, in CHOSEN_REFUSALS order
    default_refusal: str | None  # selected in the list: the reason's own refusal if offered
    cards: tuple[str, ...]  # one "give" button each when the message holds several

    def offers_refusal(self, refusal: str) -> bool:
        return refusal in self.refusals


def is_automatic(facts: HeldFacts) -> bool:
    return facts.kind in _AUTOMATIC_KINDS or facts.outcome == MailOutcome.AUTOMATIC


def held_choices(facts: HeldFacts) -> HeldChoices:
    if is_automatic(facts):
        return HeldChoices(DISMISS, can_give=False, refusals=(), default_refusal=None, cards=())
    refusals = (
        tuple(r for r in CHOSEN_REFUSALS if r != facts.told) if facts.sender is not None else ()
    )
    own = facts.outcome if facts.outcome in refusals else None
    cards = facts.cards if len(facts.cards) > 1 else ()
    return HeldChoices(
        _default(facts, own),
        can_give=True,
        refusals=refusals,
        default_refusal=own or (refusals[0] if refusals else None),
        cards=cards,
    )


def _default(facts: HeldFacts, own_refusal: str | None) -> str:
    match facts.outcome:
        case MailOutcome.CARD_MISSING:
            # The librarian reads the card (or finds the reader by name) and gives the code;
            # the reader was already asked for the card when the message came.
            return GIVE
        case MailOutcome.TOO_LARGE:
            # Nothing of it could be read: it is refused, or closed if already refused.
            return REFUSE if own_refusal else DISMISS
        case _:
            return GIVE if facts.card or facts.cards else DISMISS
