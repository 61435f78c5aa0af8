"""When to try again: a reply the server deferred, and a server that could not be reached."""

from __future__ import annotations

from datetime import datetime, timedelta

# 1, 5, 15 minutes, then hourly: a 4xx usually clears within minutes (greylisting, a full
# queue), and an hour is the longest a reader's code should wait for no reason.
RETRY_PAUSES = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(minutes=60),
)
# After this many deferrals (about 8 hours of trying) the reply is failed for staff.
MAX_SEND_ATTEMPTS = 11


def pause_after(failures: int) -> timedelta:
    """The pause after the `failures`-th failure in a row (1-based)."""
    return RETRY_PAUSES[min(max(failures, 1), len(RETRY_PAUSES)) - 1]


def next_try(attempts: int, now: datetime) -> datetime | None:
    """When to try a reply again after its `attempts`-th deferral; None: give up."""
    if attempts >= MAX_SEND_ATTEMPTS:
        return None
    return now + pause_after(attempts)
