"""The OpenAPI documents in docs/openapi are current, and every route documents the one error shape."""

from __future__ import annotations

import json

import pytest

from infra.openapi import FUNCTIONS, OUT, document, render


@pytest.mark.parametrize("name", FUNCTIONS)
def test_committed_document_is_current(name: str) -> None:
    committed = (OUT / f"{name}.json").read_text()
    assert committed == render(document(name)), "run `python -m infra.openapi` and commit docs/openapi"


@pytest.mark.parametrize("name", FUNCTIONS)
def test_every_operation_documents_the_error_shape(name: str) -> None:
    spec = document(name)
    assert "ErrorBody" in spec["components"]["schemas"]
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            errors = {code: r for code, r in operation["responses"].items() if code.startswith(("4", "5"))}
            assert "401" in errors, (path, method)
            assert "ErrorBody" in json.dumps(errors["401"]), (path, method)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_every_document_declares_its_bearer_schemes_and_each_routes_security(name: str) -> None:
    spec = document(name)
    schemes = spec["components"]["securitySchemes"]
    for scheme in schemes.values():
        assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")
    expected: list[dict[str, list[str]]] = (
        [{"betterAuth": []}] if name == "session" else [{"betterAuth": []}, {"chatToken": []}]
    )
    assert set(schemes) == {key for requirement in expected for key in requirement}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            assert operation["security"] == expected, (path, method)
