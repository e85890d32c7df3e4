"""schemathesis against the served OpenAPI document: every operation, real app (MariaDB + Redis), real keys.

Each operation is called with the credential its view accepts (a provider key, else the admin staff token;
a customer token for ``/me``), so the generated requests get past authentication and reach the code.
Checks: no 5xx, status codes / content types / headers / bodies as documented, and invalid input rejected
with a 4xx. Examples are bounded (``max_examples`` per operation, derandomized) to keep the run short.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.helpers.database import reset_all
from tests.security.world import World, api_views, build_world
from webapp.api.openapi import document

pytestmark = pytest.mark.slow  # fuzzing every operation (~1 minute)

# Per operation; ~1 minute for all of them. LOYALTY_FUZZ_EXAMPLES=200 for a deeper run by hand.
EXAMPLES = int(os.environ.get("LOYALTY_FUZZ_EXAMPLES", "6"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@pytest.fixture(scope="module")
def world(app, redis_client) -> World:
    reset_all(app, redis_client)
    return build_world(app)


@pytest.fixture(scope="module")
def credentials(app, world) -> dict[tuple[str, str], dict[str, str]]:
    """The Authorization header each (method, path) accepts."""
    out = {}
    for method, path, _rule, view in api_views(app):
        kinds = getattr(view, "api_kinds", None)
        if kinds is None:
            out[(method, path)] = world.bearer(world.customer_token)  # /me (and the open endpoints ignore it)
        elif "provider" in kinds:
            out[(method, path)] = world.telecom.headers
        else:
            out[(method, path)] = world.staff
    return out


# The document the app serves (test_served_document_is_the_tested_one proves they are the same); loaded at
# import time because schemathesis parametrizes at collection, before the database fixtures exist.
# Unknown query parameters and headers are ignored (as HTTP APIs usually do), so negative cases do not add
# them; every other kind of invalid input must get a 4xx.
CONFIG = SchemathesisConfig.from_dict({"generation": {"allow-extra-parameters": False}})
schema = schemathesis.openapi.from_dict(document(), config=CONFIG)


def test_served_document_is_the_tested_one(app, world) -> None:
    served = app.test_client().get("/api/v1/openapi.json")
    assert served.status_code == 200
    assert served.get_json() == json.loads(json.dumps(document(), default=str))


def test_document_covers_every_api_route(app) -> None:
    """A new endpoint without an OpenAPI entry fails here (and so is never left out of the fuzzing)."""
    paths = document()["paths"]
    missing = [
        f"{method} {path}"
        for method, path, _rule, _view in api_views(app)
        if path != "/api/v1/openapi.json" and method.lower() not in paths.get(path, {})
    ]
    assert missing == []


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi_document(case: Any, app, credentials) -> None:
    by_path = {path: h for (_m, path), h in credentials.items()}  # an undocumented method: any key of the path
    headers = credentials.get((case.method.upper(), case.path), by_path[case.path])
    case.call_and_validate(headers=headers, checks=CHECKS, app=app)
