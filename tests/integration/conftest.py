from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.stack import Stack


@pytest.fixture
def make_stack(
    redis_url: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[type[Stack]]:
    """Build stacks that are stopped (and whose logs are shown on failure) after the test."""
    stacks: list[Stack] = []

    def build(**settings: object) -> Stack:
        stack = Stack(tmp_path_factory.mktemp("stack"), redis_url, **settings)
        stacks.append(stack)
        return stack

    yield build  # type: ignore[misc]
    for stack in stacks:
        stack.stop()
    if request.node.stash.get(FAILED, False):
        for stack in stacks:
            print(stack.logs()[-6000:])


FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    report = yield
    if getattr(report, "failed", False):
        item.stash[FAILED] = True
    return report


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)
