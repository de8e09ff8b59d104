"""Property-based fuzz of the OpenAPI contract (schemathesis) against a real stack.

Every documented operation gets generated requests, valid (positive) and
invalid (negative); no answer may be a 5xx other than the promised 503, and
every answer must carry a status the schema declares for its operation and
match the schema declared for it. Bounded and derandomized: the same examples
on every run, about a minute. (Driven through schemathesis' Python API with
hypothesis' `@given`: its pytest plugin's fixture mode does not run on pytest 9.)
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.integration.stack import Stack

MAX_EXAMPLES = 100  # per operation and mode


@pytest.fixture(scope="module")
def stack(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(tmp_path_factory.mktemp("contract"), redis_url, max_texts_per_request=8)
    try:
        stack.start_worker()
        stack.start_api()
        yield stack
    finally:
        stack.stop()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_answer_matches_the_contract(stack: Stack, mode: GenerationMode) -> None:
    api = schemathesis.openapi.from_url(f"{stack.base_url}/openapi.json")
    operations = [result.ok() for result in api.get_all_operations()]
    assert {op.path for op in operations} >= {"/v1/predict", "/v1/models", "/readyz"}
    seen: dict[str, set[int]] = {}
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=MAX_EXAMPLES,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: schemathesis.Case) -> None:
            response = case.call(timeout=30)
            seen.setdefault(case.operation.label, set()).add(response.status_code)
            status = response.status_code
            assert status < 500 or status == 503, (case.operation.label, status, response.text)
            case.validate_response(
                response,
                checks=[
                    status_code_conformance,
                    content_type_conformance,
                    response_schema_conformance,
                ],
            )

        try:
            check()
        except Unsatisfiable:
            # Nothing to get wrong: an operation with no parameters and no body has
            # no invalid requests to generate.
            assert mode is GenerationMode.NEGATIVE, operation.label
    print(mode, seen)
