"""Property-based API test: schemathesis generates requests from the app's own OpenAPI document
(valid and invalid ones) and checks that none gets a 5xx and every response matches what the
document promises (status codes, content types, body schemas).

Bounded to a few hundred cases in all so the suite stays fast.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from rag.engine import RagEngine
from rag.settings import Settings
from service import create_app

# 10 operations × 20 generated cases, plus schemathesis's deterministic coverage cases (wrong
# methods, missing and boundary values): about 400 requests per run.
EXAMPLES_PER_OPERATION = 20

# Schemathesis parametrizes at collection, so the schema is read at import time, straight from
# the app object (no request, so nothing starts yet). The app's lifespan starts with the first
# generated request, after the fixture below has supplied the engine it serves.
_engine: dict[str, RagEngine] = {}
app = create_app(
    Settings(slack_signing_secret="schemathesis-secret"),
    lambda _settings: _engine["current"],
    wait_for_engine=True,
)
schema = schemathesis.openapi.from_dict(app.openapi())
schema.app = app
# A request can satisfy the JSON Schema and still be refused with 400 by a rule JSON Schema cannot
# state (e.g. `published_from` after `published_to`). A 422 for schema-valid data, though, means
# the document and the validation disagree, and still fails the run.
schema.config.checks.positive_data_acceptance.expected_statuses = ["2xx", "400", "401", "404"]


@pytest.fixture(scope="module", autouse=True)
def _engine_for_the_app(fake_engine: RagEngine) -> None:
    _engine["current"] = fake_engine


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,  # the same cases on every run: a failure here is reproducible
)
def test_api_conforms_to_its_schema_and_never_fails(case: schemathesis.Case) -> None:
    case.call_and_validate()
    assert app.state.service.engine is not None  # every case ran against a loaded index

