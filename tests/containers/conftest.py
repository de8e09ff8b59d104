from __future__ import annotations

from collections.abc import Iterator

import pytest

from spectrum_dev.containers import Pod


@pytest.fixture
def pod(request: pytest.FixtureRequest) -> Iterator[Pod]:
    """A private podman network for one test; its containers' logs are shown on failure."""
    created = Pod()
    yield created
    if request.node.stash.get(FAILED, False):
        print(created.logs())
    created.remove()


FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    report = yield
    if getattr(report, "failed", False):
        item.stash[FAILED] = True
    return report
