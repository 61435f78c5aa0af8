"""The container image as an IT person runs it: built from the Dockerfile, then `init`,
`run --once` against the tests' Dovecot and SMTP sink on the host network, `web` answering
/readyz and /metrics, and the daemon stopping within 2 s of SIGTERM."""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import datetime
from email import message_from_bytes
from pathlib import Path

import pytest

from empikgo_mailer.rehearsal.dovecot import DovecotServer
from empikgo_mailer.rehearsal.ports import free_port
from tests.support.config import MAIL_ENV, write_config
from tests.support.containers import (
    IMAGE,
    container,
    podman,
    run_once,
)
from tests.support.mail import fixture
from tests.support.smtp import SmtpServer

FIXTURES = Path(__file__).parents[2] / "fixtures"
OPENING = "2026-11-02T10:00"
WARSAW_OPENING = datetime.fromisoformat("2026-11-02T10:00:00+01:00")


@pytest.fixture
def deployment(tmp_path: Path, dovecot: DovecotServer, smtp: SmtpServer) -> dict[str, object]:
    """A configuration and a data volume as an IT person would mount them."""
    config = write_config(tmp_path, "", imap_port=dovecot.port, smtp_port=smtp.port)
    # The packaged texts are used inside the image: no templates directory to mount.
    text = "\n".join(
        line for line in config.read_text().splitlines() if not line.startswith("templates_dir")
    )
    config.write_text(text + "\n")
    data = tmp_path / "volume"
    data.mkdir()
    data.chmod(0o777)  # the image's user (uid 10001) writes here
    volumes = [
        f"{config}:/etc/empikgo/empikgo.toml:ro",
        f"{data}:/var/lib/empikgo",
        f"{FIXTURES}:/srv/fixtures:ro",
    ]
    return {"volumes": volumes, "env": dict(MAIL_ENV), "data": data}


def test_the_image_is_small_non_root_and_without_compilers(image: float) -> None:
    [info] = json.loads(podman("image", "inspect", IMAGE).stdout)
    config = info["Config"]
    assert config["User"] == "empikgo"
    assert config["Entrypoint"] == ["empikgo-mailer"]
    assert "/var/lib/empikgo" in config["Volumes"]
    assert config["StopSignal"] in {"SIGTERM", "15"}
    health = info.get("Healthcheck") or config.get("Healthcheck")
    assert health is not None and "healthcheck" in " ".join(health["Test"])
    size_mb = info["Size"] / 2**20
    print(f"image size {size_mb:.0f} MB")
    found = podman(
        "run",
        "--rm",
        "--entrypoint",
        "sh",
        IMAGE,
        "-c",
        "command -v gcc cc g++ make || echo none",
    ).stdout.split()
    assert found == ["none"]
    version = podman("run", "--rm", IMAGE, "--version").stdout.strip()
    assert version.startswith("empikgo-mailer ")


def test_init_run_once_and_web_in_containers(
    image: float, deployment: dict[str, object], dovecot: DovecotServer, smtp: SmtpServer
) -> None:
    volumes, env = deployment["volumes"], deployment["env"]
    assert isinstance(volumes, list) and isinstance(env, dict)
    steps = [
        ["init"],
        ["patrons", "import", "/srv/fixtures/patrons.csv", f"--now={OPENING}"],
        [
            "codes",
            "import",
            "/srv/fixtures/codes/empik-go-multimedia.txt",
            "--platform",
            "empik-go",
            "--month",
            "2026-11",
            "--branch",
            "multimedia",
            f"--now={OPENING}",
        ],
    ]
    for step in steps:
        done = run_once(step, env=env, volumes=volumes)
        assert done.returncode == 0, (step, done.stdout, done.stderr)
    with dovecot.client("multimedia") as client:
        client.append("INBOX", fixture("phone.eml"), msg_time=WARSAW_OPENING)

    done = run_once(["run", "--once", f"--now={OPENING}"], env=env, volumes=volumes)
    assert done.returncode == 0, done.stderr
    assert "wydano kod: 1" in done.stdout
    [reply] = smtp.sink.messages()
    assert reply["To"] == "tomasz.kaminski@example.com"
    # The copy of the reply is in the branch mailbox's Sent folder, for staff.
    with dovecot.client("multimedia") as client:
        client.select_folder("Sent", readonly=True)
        [uid] = client.search()
        copy = message_from_bytes(client.fetch([uid], ["BODY.PEEK[]"])[uid][b"BODY[]"])
    assert copy["Message-ID"] == reply["Message-ID"]

    port = free_port()
    web_env = {**env, "EMPIKGO_API_TOKEN": "catalogue-token"}
    args = ["web", "--host", "127.0.0.1", "--port", str(port), f"--now={OPENING}"]
    with container(args, env=web_env, volumes=volumes) as name:
        answer = _get(f"http://127.0.0.1:{port}/readyz", within=60)
        assert json.loads(answer)["checks"] == {
            "database": "ok",
            "schema": "ok",
            "daemon": "ok, last pass 0 s ago",
        }
        metrics = _get(f"http://127.0.0.1:{port}/metrics", within=5)
        assert 'empikgo_decisions_total{branch="multimedia",outcome="issued"} 1.0' in metrics
        assert 'empikgo_replies_total{result="sent"} 1.0' in metrics
        # The check compose and monitoring run inside the web container.
        healthy = podman(
            "exec",
            name,
            "empikgo-mailer",
            "healthcheck",
            "--url",
            f"http://127.0.0.1:{port}/healthz",
            check=False,
        )
        assert (healthy.returncode, healthy.stdout.strip()) == (0, "gotowy")


def test_the_daemon_container_stops_within_two_seconds_of_sigterm(
    image: float, deployment: dict[str, object]
) -> None:
    volumes, env = deployment["volumes"], deployment["env"]
    assert isinstance(volumes, list) and isinstance(env, dict)
    assert run_once(["init"], env=env, volumes=volumes).returncode == 0
    with container(["-v", "run"], env=env, volumes=volumes) as name:
        deadline = time.monotonic() + 60
        while "mail daemon started" not in podman("logs", name).stderr:
            assert time.monotonic() < deadline
            time.sleep(0.2)
        time.sleep(3)  # in its IDLE and its wait between passes
        started = time.monotonic()
        podman("kill", "--signal", "TERM", name)
        exit_code = podman("wait", name, timeout=30).stdout.strip()
        seconds = time.monotonic() - started
        logs = podman("logs", name).stderr
    print(f"SIGTERM to exit: {seconds:.2f} s")
    assert exit_code == "0", logs[-2000:]
    assert seconds < 2.0, logs[-2000:]
    assert "mail daemon stopped" in logs
    assert "Traceback" not in logs


def _get(url: str, *, within: float) -> str:
    deadline = time.monotonic() + within
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310
                return str(answer.read().decode())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)
