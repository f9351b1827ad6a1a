"""The chat function's OpenAPI document, with ChatKit's request types as the ChatKit endpoint's body.

The endpoint reads its body itself (ChatKit's server wants the raw request), so FastAPI cannot see its type; the
ChatKit SDK's own request models are added to the document's components instead."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from chatkit.types import ChatKitReq
from fastapi import FastAPI
from pydantic import TypeAdapter

CHATKIT_PATH = "/api/{user_id}/chatkit"


def with_chatkit_request_schema(app: FastAPI) -> Callable[[], dict[str, Any]]:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = generate()
        with warnings.catch_warnings():  # a generic default of the SDK's widget models has no JSON form
            warnings.simplefilter("ignore")
            schema = TypeAdapter[ChatKitReq](ChatKitReq).json_schema(ref_template="#/components/schemas/{model}")
        definitions = schema.pop("$defs", {})
        document.setdefault("components", {}).setdefault("schemas", {}).update(definitions)
        document["components"]["schemas"]["ChatKitRequest"] = schema
        operation = document["paths"][CHATKIT_PATH]["post"]
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ChatKitRequest"}}},
        }
        app.openapi_schema = document
        return document

    return openapi
