"""Podman as these machines run it (../shared/tools/podman.sh), for the deployment tests:
the image built once per test module, containers started on the host network (so they
reach the tests' loopback Dovecot, SMTP sink and PostgreSQL) and always removed."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
TOOLS = ROOT.parent / "shared" / "tools"
PODMAN = TOOLS / "podman.sh"
# EMPIKGO_TEST_IMAGE: another tag, so that test runs of several checkouts on one machine
# do not build over each other's image.
IMAGE = os.environ.get("EMPIKGO_TEST_IMAGE", "localhost/empikgo-mailer:test")


def podman_or_skip() -> Path:
    """In CI a missing podman is a failure, elsewhere a skip with the reason."""
    usable = PODMAN.exists() and shutil.which("podman") is not None
    if not usable:
        reason = "podman and ../shared/tools/podman.sh are needed (scripts/setup.sh as root)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return PODMAN


def podman(
    *args: str, check: bool = True, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["bash", str(PODMAN), *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and done.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)}: {done.returncode}\n{done.stderr[-3000:]}")
    return done


def build_image() -> float:
    """Build the project's Dockerfile; the seconds it took."""
    started = time.monotonic()
    podman(
        "build",
        "--network",
        "host",
        "-v",
        "/etc/ssl/certs:/etc/ssl/certs:ro",
        "--format",
        "docker",
        "-t",
        IMAGE,
        str(ROOT),
        timeout=900,
    )
    return time.monotonic() - started


@contextmanager
def container(
    args: Sequence[str], *, env: dict[str, str], volumes: Sequence[str], name: str | None = None
) -> Iterator[str]:
    """A detached container on the host network; removed however the test ends."""
    name = name or f"empikgo-test-{uuid.uuid4().hex[:8]}"
    options = ["run", "-d", "--name", name, "--network", "host"]
    for key, value in env.items():
        options += ["-e", f"{key}={value}"]
    for volume in volumes:
        options += ["-v", volume]
    podman(*options, IMAGE, *args)
    try:
        yield name
    finally:
        podman("rm", "-f", "-t", "0", name, check=False)


def run_once(
    args: Sequence[str], *, env: dict[str, str], volumes: Sequence[str]
) -> subprocess.CompletedProcess[str]:
    options = ["run", "--rm", "--network", "host"]
    for key, value in env.items():
        options += ["-e", f"{key}={value}"]
    for volume in volumes:
        options += ["-v", volume]
    return podman(*options, IMAGE, *args, check=False)


def inspect(name: str, template: str) -> str:
    """One field of a container's state, e.g. "{{.State.Pid}}"."""
    return podman("inspect", "--format", template, name).stdout.strip()


def compose_container(project: str, service: str) -> str:
    """The name of a compose service's container (the labels both compose tools set)."""
    found = podman(
        "ps",
        "--all",
        "--filter",
        f"label=com.docker.compose.project={project}",
        "--filter",
        f"label=com.docker.compose.service={service}",
        "--format",
        "{{.Names}}",
    ).stdout.split()
    assert len(found) == 1, (project, service, found)
    return found[0]
