"""The web app for `web --workers N`: uvicorn starts each worker as a process of its own,
which builds the app here from the configuration file and the clock (`--now`, `--from`
...) that the `web` command passed down in the environment (the secrets come from the
environment and `.env`, as for every command)."""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING

from empikgo_mailer.config import read_environment
from empikgo_mailer.entrypoints.cli_support import ClockChoice, Runtime
from empikgo_mailer.entrypoints.logs import configure_logging

if TYPE_CHECKING:  # the `web` command imports this module before it needs FastAPI
    from fastapi import FastAPI

WORKER_CONFIG = "EMPIKGO_WEB_CONFIG"
WORKER_CLOCK = "EMPIKGO_WEB_CLOCK"
# How long a thread holding the GIL keeps another waiting (Python's default: 5 ms). A
# thread doing Python work (a pool file's codes) holds back, 5 ms at a time, the event
# loop that waits on the network and the database. Measured: claims p99 during a
# librarian's upload was 150 ms at 5 ms and 60 ms at 1 ms (bench.legimi_http --staff).
GIL_SWITCH_SECONDS = 0.001


def web_process() -> None:
    """What every process serving the web app sets before it serves."""
    sys.setswitchinterval(GIL_SWITCH_SECONDS)


def create() -> FastAPI:
    """One worker's app; called by uvicorn in each worker process."""
    from empikgo_mailer.entrypoints.web import create_web_app  # noqa: PLC0415

    web_process()
    env = read_environment()
    configure_logging(
        logging.WARNING, "json" if env.get("EMPIKGO_LOG_FORMAT") == "json" else "text"
    )
    runtime = Runtime(env[WORKER_CONFIG], env)
    return create_web_app(
        runtime.app(), runtime.clock(ClockChoice.from_json(env.get(WORKER_CLOCK)))
    )
