"""Render ``shared/PROTOCOL.md`` from the wire models, so the protocol document cannot drift.

Run ``python -m shared.protocol_doc`` (``make protocol-doc``); a test fails when the file differs.
"""

from __future__ import annotations

import inspect
import sys
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from shared import protocol

DOC_PATH = Path(__file__).with_name("PROTOCOL.md")


def _type_of(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return f"`{schema['$ref'].rsplit('/', 1)[-1]}`"
    if "anyOf" in schema:
        return " or ".join(_type_of(option) for option in schema["anyOf"])
    if "enum" in schema:
        return " \\| ".join(f"`{value}`" for value in schema["enum"])
    if "const" in schema:
        return f"`{schema['const']}`"
    kind = schema.get("type", "any")
    if kind == "array":
        return f"list of {_type_of(schema.get('items', {}))}"
    if kind == "object" and "additionalProperties" in schema:
        return f"map of {_type_of(schema['additionalProperties'])}"
    return str(kind)


def _limits(schema: dict[str, Any]) -> str:
    names = ("minLength", "maxLength", "minimum", "maximum", "maxItems", "pattern")
    found = [f"{name} {schema[name]}" for name in names if name in schema]
    for option in schema.get("anyOf", []):
        found.extend(f"{name} {option[name]}" for name in names if name in option)
    return "; ".join(found).replace("|", "\\|")


def _model_section(model: type[BaseModel]) -> list[str]:
    schema = model.model_json_schema()
    required = set(schema.get("required", []))
    lines = [f"### {model.__name__}", ""]
    doc = inspect.getdoc(model)
    if doc and model.__doc__:
        lines += [doc, ""]
    lines += ["| field | type | required | limits |", "|---|---|---|---|"]
    for name, prop in schema.get("properties", {}).items():
        lines.append(f"| `{name}` | {_type_of(prop)} | {'yes' if name in required else 'no'} | {_limits(prop)} |")
    return [*lines, ""]


def render() -> str:
    models = [
        value
        for name in protocol.__all__
        if inspect.isclass(value := getattr(protocol, name)) and issubclass(value, BaseModel)
    ]
    enums = [
        value
        for name in protocol.__all__
        if inspect.isclass(value := getattr(protocol, name)) and not issubclass(value, BaseModel)
    ]
    lines = [
        "# Gatepost sync protocol, version " + str(protocol.PROTOCOL_VERSION),
        "",
        "Generated from `shared/protocol.py` by `python -m shared.protocol_doc`; do not edit by hand.",
        "",
        "```",
        inspect.getdoc(protocol) or "",
        "```",
        "",
        f"Header `{protocol.PROTOCOL_HEADER}`; versions served: {list(protocol.SUPPORTED_PROTOCOL_VERSIONS)}. "
        f"A push carries at most {protocol.MAX_PUSH_CHANGES} changes and {protocol.MAX_PUSH_GRANTS} key grants; "
        f"a pull returns at most {protocol.MAX_PULL_LIMIT} items.",
        "",
        "## Enumerations",
        "",
    ]
    for enum in enums:
        members: list[Enum] = list(enum)  # type: ignore[call-overload]
        lines.append(f"- `{enum.__name__}`: " + ", ".join(f"`{member.value}`" for member in members))
    lines += ["", "## Messages", ""]
    for model in models:
        lines += _model_section(model)
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    DOC_PATH.write_text(render(), encoding="utf-8")
    print(f"wrote {DOC_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
