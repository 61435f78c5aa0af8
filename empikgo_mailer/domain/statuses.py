"""The states stored rows move through. The database keeps their text; code names them."""

from __future__ import annotations

from enum import IntEnum, StrEnum


class CodeStatus(StrEnum):
    FREE = "free"
    ISSUED = "issued"
    LAPSED = "lapsed"  # never given out before its month was closed


class RequestKind(StrEnum):
    """What a message with the request subject turned out to be."""

    REQUEST = "request"
    AUTOMATIC = "automatic"  # an auto-reply, a bounce, mail from our own mailboxes
    TOO_LARGE = "too-large"
    UNREADABLE = "unreadable"  # could not be fetched or parsed: staff read it themselves
    DUPLICATE = "duplicate"  # a second copy of a request already recorded
    BOUNCE = "bounce"  # a delivery report about one of our replies (any subject)


class RequestStatus(StrEnum):
    QUEUED = "queued"
    DECIDED = "decided"
    SET_ASIDE = "set-aside"  # waits for staff


class ReplyStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # the server refused it for good, or it ran out of tries
    BOUNCED = "bounced"  # taken by the server, then returned by a delivery report


class ReplyPriority(IntEnum):
    """The order replies go out in: a code before a refusal (RULES section 8), a reader
    before a sender not on file for any reader (section 9)."""

    CODE = 0
    READER = 1
    STRANGER = 2


class JobState(StrEnum):
    RUNNING = "running"
    OK = "ok"
    NOTHING = "nothing"  # ran and found nothing to do
    PROBLEMS = "problems"  # ran, and some input was refused
    FAILED = "failed"


class DropKind(StrEnum):
    """The drop folder's two kinds of files."""

    POOLS = "pools"
    ACTIVATIONS = "activations"


class DroppedOutcome(StrEnum):
    IMPORTED = "imported"
    PROBLEMS = "problems"  # imported, some lines refused
    REJECTED = "rejected"  # nothing imported
    DUPLICATE = "duplicate"  # another process took the same file at the same moment
