"""Property-based fuzzing of the HTTP API from its own OpenAPI schema (schemathesis + hypothesis).

Every operation gets generated requests, valid and invalid; no answer may be a server error.
Bounded: a fixed number of examples per operation, derandomized so that CI runs the same cases.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

from recommender.serve import create_app  # noqa: E402

from .serve_support import build_store  # noqa: E402

EXAMPLES = 25  # per operation: a few seconds for the whole run
ROOT = Path(tempfile.mkdtemp(prefix="recommender-fuzz-"))
HOME = ROOT / "store"
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(HOME))  # the store is built below


@pytest.fixture(scope="module", autouse=True)
def store():
    build_store(HOME)  # before the first generated request: the app loads its view lazily
    yield
    shutil.rmtree(ROOT, ignore_errors=True)


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_request_makes_a_server_error(case) -> None:
    response = case.call()
    case.validate_response(response, checks=[not_a_server_error])


# The write endpoints with the token: generated articles, pins, blocks and sections, no 500.
TOKEN = "fuzz-token-fuzz-token"
WRITE_EXAMPLES = 15  # each may store an article or a control: fewer than the reads
WRITE_HOME = ROOT / "write-store"
writes = schemathesis.openapi.from_asgi("/openapi.json", create_app(WRITE_HOME, token=TOKEN)).include(
    method=["PUT", "DELETE"]
)


@pytest.fixture(scope="module", autouse=True)
def write_store():
    build_store(WRITE_HOME)
    yield


@writes.parametrize()
@settings(
    max_examples=WRITE_EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
def test_no_authorized_write_makes_a_server_error(case) -> None:
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {TOKEN}"}  # over generated ones
    response = case.call()
    assert response.status_code not in (401, 403), response.text  # the token is taken: real writes
    case.validate_response(response, checks=[not_a_server_error])
