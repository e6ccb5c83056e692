"""Reliability: schemathesis at 300 generated cases per operation (plus its coverage cases), with
API keys set (every case authenticated) and without, against the app's own OpenAPI document:
no case may get a 5xx or a response the document does not promise."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from rag.engine import RagEngine
from rag.settings import Settings
from service import create_app

pytestmark = pytest.mark.reliability

EXAMPLES_PER_OPERATION = 300
KEY = "reliability-key"
_engine: dict[str, RagEngine] = {}


def _schema(api_keys: tuple[str, ...]) -> schemathesis.schemas.BaseSchema:
    app = create_app(
        Settings(slack_signing_secret="schemathesis-secret", api_keys=api_keys),
        lambda _settings: _engine["current"],
        wait_for_engine=True,
    )
    schema = schemathesis.openapi.from_dict(app.openapi())
    schema.app = app
    # Schema-valid data may still be refused by a rule JSON Schema cannot state (published_from
    # after published_to: 400); a 422 for schema-valid data still fails the run.
    schema.config.checks.positive_data_acceptance.expected_statuses = ["2xx", "400", "401", "404"]
    # Off: "negative" query data that serializes to a valid request (a boolean `true` for a string
    # parameter is the string "true" once in the URL) is reported as accepted invalid data (ST201).
    # Seen once in a full run: GET /search?q=…&source=true. Every other check stays on.
    schema.config.checks.negative_data_rejection.enabled = False
    return schema


open_schema = _schema(())
keyed_schema = _schema((KEY,))


@pytest.fixture(scope="module", autouse=True)
def _engine_for_the_apps(fake_engine: RagEngine) -> None:
    _engine["current"] = fake_engine


_SETTINGS = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,  # the same cases on every run: a failure is reproducible
)


@open_schema.parametrize()
@_SETTINGS
def test_without_keys_every_case_gets_a_documented_non_5xx_answer(case: schemathesis.Case) -> None:
    case.call_and_validate()


@keyed_schema.parametrize()
@_SETTINGS
def test_with_keys_every_authenticated_case_gets_a_documented_non_5xx_answer(case: schemathesis.Case) -> None:
    # A generated Authorization header becomes the real key, so valid cases reach the engine; a case
    # generated without one (or with a malformed one) is checked as sent: it must get its 401.
    headers = dict(case.headers or {})
    if str(headers.get("Authorization", "")).startswith("Bearer "):
        case.headers = {**headers, "Authorization": f"Bearer {KEY}"}
    case.call_and_validate()
