"""The pieces every route module builds its OpenAPI operations from, so the contract reads the same everywhere."""

from __future__ import annotations

from typing import Any

ERROR = {"$ref": "#/components/schemas/Error"}

IDEMPOTENCY = {"name": "Idempotency-Key", "in": "header", "required": False, "schema": {"type": "string"},
               "description": "a retry with the same key gets the first answer again, never a second ticket. Keys "
                              "are scoped per node (two kiosks may use the same key) and remembered for 48 hours; "
                              "the same key with a different request is refused (422 idempotency_key_reused)"}


def body(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    """A JSON request body of exactly these properties (unknown fields are refused, as the routes do)."""
    schema: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": props}
    if required:
        schema["required"] = required
    return {"required": bool(required), "content": {"application/json": {"schema": schema}}}


def resp(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """A response, with a JSON schema when it has a body."""
    if schema is None:
        return {"description": description}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def errors(*cases: tuple[int, str]) -> dict[str, Any]:
    """Error responses by status, each the one error shape."""
    return {str(status): resp(text, ERROR) for status, text in cases}


def query(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    """A query parameter."""
    return {"name": name, "in": "query", "schema": schema, **({"description": description} if description else {})}
