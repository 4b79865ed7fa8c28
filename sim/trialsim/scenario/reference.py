"""The scenario file reference, generated from the schema so that it cannot drift from it.

``trialsim schema --markdown`` prints it; ``docs/scenario-reference.md`` is its
output, and a test keeps the two equal.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from typing import Any, Literal

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from trialsim.scenario.schema import Scenario

HEADER = """# Scenario file reference

Generated from the schema by `trialsim schema --markdown`; do not edit by hand.
Times are in weeks unless a key says months; probabilities and rates are proportions.
`[]` marks the items of a list. A key without a default is required.

| key | type | default | meaning |
| --- | --- | --- | --- |
"""
BOUNDS = (
    (annotated_types.Ge, "≥"),
    (annotated_types.Gt, ">"),
    (annotated_types.Le, "≤"),
    (annotated_types.Lt, "<"),
)


def scenario_reference() -> str:
    """The Markdown reference of every scenario key: type, range, default and meaning."""
    rows = [_row(key, field) for key, field in _fields(Scenario, "")]
    return HEADER + "\n".join(rows) + "\n"


def _fields(model: type[BaseModel], prefix: str) -> Iterator[tuple[str, FieldInfo]]:
    for name, field in model.model_fields.items():
        key = f"{prefix}{field.alias or name}"  # the YAML key, e.g. `lambda` for `lam`
        yield key, field
        for nested, suffix in _models_in(field.annotation):
            label = ""
            if len(_models_in(field.annotation)) > 1 and "test" in nested.model_fields:
                label = f" ({_literal_values(nested.model_fields['test'].annotation)[0]})"
            yield from _fields(nested, f"{key}{suffix}{label}.")


def _models_in(annotation: Any) -> list[tuple[type[BaseModel], str]]:
    """Models inside an annotation, with ``[]`` when they are list items."""
    found: list[tuple[type[BaseModel], str]] = []
    for inner, suffix in _unwrap(annotation, ""):
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            found.append((inner, suffix))
    return found


def _unwrap(annotation: Any, suffix: str) -> Iterator[tuple[Any, str]]:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        yield from _unwrap(typing.get_args(annotation)[0], suffix)
    elif origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            yield from _unwrap(arg, suffix)
    elif origin is list:
        yield from _unwrap(typing.get_args(annotation)[0], suffix + "[]")
    else:
        yield annotation, suffix


def _literal_values(annotation: Any) -> list[str]:
    return [str(value) for value in typing.get_args(annotation)]


def _row(key: str, field: FieldInfo) -> str:
    default = field.get_default(call_default_factory=True)
    if field.default is PydanticUndefined and field.default_factory is None:
        shown = "required"
    elif isinstance(default, BaseModel):
        shown = "see below"
    elif default is None:
        shown = "none"
    elif isinstance(default, list) and not default:
        shown = "[]"
    elif default == "":
        shown = '`""`'
    else:
        shown = f"`{default}`"
    meaning = (field.description or "").replace("|", "\\|")
    return f"| `{key}` | {_type_text(field)} | {shown} | {meaning} |"


def _type_text(field: FieldInfo) -> str:
    text = _describe(field.annotation)
    if text == "text" and any(getattr(item, "pattern", None) for item in field.metadata):
        text = "identifier (a letter, then letters, digits, `_`, `.`, `-`)"
    return text + _bounds(field.metadata)


def _describe(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        inner, *extras = typing.get_args(annotation)
        items = [item for extra in extras for item in getattr(extra, "metadata", [])]
        return _describe(inner) + _bounds(items)
    if origin in (typing.Union, types.UnionType):
        parts = [_describe(arg) for arg in typing.get_args(annotation) if arg is not type(None)]
        return " or ".join(dict.fromkeys(parts))
    if origin is Literal:
        return " or ".join(f"`{value}`" for value in _literal_values(annotation))
    if origin is list:
        return f"list of {_describe(typing.get_args(annotation)[0])}"
    if origin is dict:
        return f"{{name: {_describe(typing.get_args(annotation)[1])}}}"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"mapping ({annotation.__name__})"
    return {int: "integer", float: "number", str: "text", bool: "true/false"}.get(
        annotation, str(annotation)
    )


def _bounds(metadata: list[Any]) -> str:
    """`` (≥ 0, ≤ 1)`` for the numeric bounds among pydantic field metadata, else ``""``."""
    bounds = [
        f"{sign} {getattr(item, type(item).__name__.lower())}"
        for item in metadata
        for kind, sign in BOUNDS
        if isinstance(item, kind)
    ]
    return f" ({', '.join(bounds)})" if bounds else ""
