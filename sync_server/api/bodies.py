"""Large request bodies validated straight from their bytes by their wire model.

FastAPI reads a JSON body with ``json.loads`` and then validates the Python objects it made: two
passes over the half megabyte a push of 500 versions carries. ``json_body(Model)`` is a dependency
that hands the raw bytes to pydantic-core's JSON validator in one pass. A bad body raises the same
``RequestValidationError`` FastAPI would (each location under ``body``), so the problem a client
gets is unchanged.

The OpenAPI document learns about such a body from the route (``documented(Model)`` as its
``openapi_extra``) and from ``install_body_schemas``, which adds the model's JSON schema to the
document's components.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema

__all__ = ["documented", "install_body_schemas", "json_body"]

_COMPONENTS = "#/components/schemas/{model}"
_Model = TypeVar("_Model", bound=BaseModel)


def json_body(model: type[_Model]) -> Callable[[Request], Coroutine[Any, Any, _Model]]:
    """A dependency giving the request body validated as ``model`` from its bytes."""

    async def parse(request: Request) -> _Model:
        try:
            return model.model_validate_json(await request.body())
        except ValidationError as error:
            raise RequestValidationError(
                [{**item, "loc": ("body", *item["loc"])} for item in error.errors(include_url=False)]
            ) from None

    return parse


def documented(model: type[BaseModel]) -> dict[str, Any]:
    """The ``openapi_extra`` of a route whose body ``json_body(model)`` parses."""
    schema = {"$ref": _COMPONENTS.format(model=model.__name__)}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def install_body_schemas(app: FastAPI, models: Sequence[type[BaseModel]]) -> None:
    """Add the JSON schemas of ``models`` (and the models they hold) to the app's OpenAPI components."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        document = generate()  # built once, then kept by FastAPI
        components = document.setdefault("components", {}).setdefault("schemas", {})
        if any(model.__name__ not in components for model in models):  # not added to this document yet
            _, definitions = models_json_schema([(model, "validation") for model in models], ref_template=_COMPONENTS)
            for name, schema in definitions.get("$defs", {}).items():
                components.setdefault(name, schema)
        return document

    app.openapi = openapi  # type: ignore[method-assign]
