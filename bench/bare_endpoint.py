"""The floor for the Legimi claim benchmark: the same HTTP stack (uvicorn, one process)
answering a fixed JSON claim from a bare Starlette endpoint, with no database, no rules
and no validation. `bench.legimi_http` runs its client load against it in the same run.

    python -m bench.bare_endpoint --port 8099 [--workers 1]
"""

from __future__ import annotations

import argparse

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

ANSWER = {
    "granted": True,
    "message": "Kod Legimi jest gotowy.",
    "code": "LGM-000000",
    "activation_url": "https://www.legimi.pl/kod/",
    "activate_by": "2027-01-31",
    "reason": None,
    "repeated": False,
}


GIVEN: dict[str, str] = {}  # card -> code: a repeated claim gets the same one


async def claim(request: Request) -> JSONResponse:
    """Codes in the order the requests are handled, as a real pool gives them."""
    card = (await request.json())["card_number"]
    code = GIVEN.setdefault(card, f"LGM-{len(GIVEN):06d}")
    return JSONResponse({**ANSWER, "code": code, "repeated": code != f"LGM-{len(GIVEN) - 1:06d}"})


async def healthz(_request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def create() -> Starlette:
    return Starlette(
        routes=[
            Route("/api/legimi/claims", claim, methods=["POST"]),
            Route("/healthz", healthz),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    uvicorn.run(
        "bench.bare_endpoint:create",
        factory=True,
        host="127.0.0.1",
        port=args.port,
        workers=args.workers,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
