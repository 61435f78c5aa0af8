"""Log lines for the library's IT person: one line per event, in English, stamped with the
library's wall clock and its UTC offset (`2026-11-02T10:00:00.123+01:00`), as text or as
one JSON object per line for a log collector (`--log-format json`).

Values a handler attaches with `extra={...}` (a request id, an outcome) become fields of
the JSON object. Codes and passwords are never logged anywhere, so no filter is needed.

Every line goes through the one handler set here: uvicorn's loggers propagate to it (the
`web` command starts uvicorn with `log_config=None`), and an uncaught exception, in the
main thread or another, is logged rather than printed, so under `--log-format json` a log
collector never meets a line that is not JSON, a traceback included.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from datetime import datetime, tzinfo
from types import TracebackType
from typing import Any, Literal

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")
# The attributes every LogRecord has; anything else came in through `extra`.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class _Stamped(logging.Formatter):
    zone: tzinfo | None = None  # until the configuration names the library's zone

    def stamp(self, record: logging.LogRecord) -> str:
        moment = datetime.fromtimestamp(
            record.created, tz=self.zone or datetime.now().astimezone().tzinfo
        )
        return moment.isoformat(timespec="milliseconds")


class TextFormatter(_Stamped):
    def format(self, record: logging.LogRecord) -> str:
        line = f"{self.stamp(record)} {record.levelname} {record.name}: {record.getMessage()}"
        extras = {k: v for k, v in vars(record).items() if k not in _STANDARD}
        if extras:
            line += " " + " ".join(f"{k}={v}" for k, v in sorted(extras.items()))
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(_Stamped):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.stamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry |= {k: v for k, v in vars(record).items() if k not in _STANDARD}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: int, log_format: LogFormat) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in UVICORN_LOGGERS:  # should uvicorn have set handlers of its own: ours
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.captureWarnings(True)
    sys.excepthook = _uncaught
    threading.excepthook = _uncaught_in_thread


UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")
_uncaught_log = logging.getLogger("empikgo_mailer.uncaught")


def _uncaught(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
    _uncaught_log.critical("uncaught %s", kind.__name__, exc_info=(kind, error, trace))


def _uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit or args.exc_value is None:
        return
    name = args.thread.name if args.thread is not None else "?"
    _uncaught_log.error(
        "uncaught %s in thread %s", args.exc_type.__name__, name,
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
    )  # fmt: skip


def set_log_zone(zone: tzinfo) -> None:
    """Stamp every line in the library's zone from now on (known once settings are read)."""
    _Stamped.zone = zone
