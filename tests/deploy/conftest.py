"""The deployment tests share one image build and run on one xdist worker (the group
"containers"), so the image is built once per run."""

from __future__ import annotations

import pytest

from tests.support.containers import build_image, podman_or_skip


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/deploy/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.xdist_group("containers"))


@pytest.fixture(scope="session")
def image() -> float:
    """Build the Dockerfile once; the seconds it took (printed for the note)."""
    podman_or_skip()
    seconds = build_image()
    print(f"image built in {seconds:.0f} s")
    return seconds
