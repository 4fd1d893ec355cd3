"""The documented facts of a catalogue model's fields, checked one field at a time (:class:`.catalogue.FieldSpec`):
required, type, allowed values, numeric range, string length, list length. Dotted names (``model_params.seed``)
are looked up inside ``model_params``, whether it is a dict or a request model.

Every refusal names the field and the rule, before any HTTP request (``fail_at``). Source of the facts:
``airflow_provider_evolink/api_reference/catalogue.json`` (``fields``), built from EvoLink's docs pages.
"""

from typing import Any

from pydantic import BaseModel

from airflow_provider_evolink.models.catalogue import FieldSpec, ModelSpec
from airflow_provider_evolink.models.field_errors import fail_at as fail

__all__ = ["check_fields", "field_value"]

#: Python types a JSON Schema type admits (a bool is an int in Python but never a number here).
_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list, tuple),
    "object": (dict, BaseModel),
}


def field_value(request: BaseModel, name: str) -> Any:
    """The value of ``name`` (dotted for ``model_params``) as given: a declared field or an extra one; ``None``
    when absent. Extras are read first-hand, so a field named like a class attribute (``mode``) is found."""
    head, _, tail = name.partition(".")
    value = _own(request, head)
    if not tail or value is None:
        return value
    if isinstance(value, BaseModel):
        return _own(value, tail)
    return value.get(tail) if isinstance(value, dict) else None


def check_fields(title: str, spec: ModelSpec, request: BaseModel) -> None:
    """Check every documented field of ``spec`` present in ``request`` (and that required ones are there).

    :raises pydantic.ValidationError: the first field breaking a rule, named with the rule.
    """
    for name, facts in spec.fields.items():
        value = field_value(request, name)
        parent = name.partition(".")[0]
        if value is None:
            if facts.required and ("." not in name or field_value(request, parent) is not None):
                fail(title, _loc(name), "field_required", f"{name} is required for {spec.model}", None)
            continue
        _check_one(title, spec.model, name, facts, value)


def _check_one(title: str, model: str, name: str, facts: FieldSpec, value: Any) -> None:
    loc = _loc(name)
    kinds = [kind for kind in (facts.type or "").split("|") if kind in _TYPES]
    if kinds and not any(_is(value, kind) for kind in kinds):
        fail(title, loc, "field_type", f"{name} must be of type {facts.type} for {model} (got {value!r})", value)
    if facts.enum is not None and value not in facts.enum:
        allowed = ", ".join(str(item) for item in facts.enum)
        fail(title, loc, "value_not_offered", f"{name} must be one of {allowed} for {model} (got {value!r})", value)
    if _is(value, "number"):
        low, high = facts.minimum, facts.maximum
        if (low is not None and value < low) or (high is not None and value > high):
            bound = f"{_num(low)}-{_num(high)}" if low is not None and high is not None else _bound(low, high)
            fail(title, loc, "out_of_range", f"{name} must be {bound} for {model} (got {value})", value)
    if isinstance(value, str) and facts.max_chars is not None and len(value) > facts.max_chars:
        fail(title, loc, "too_long", f"{name} must be at most {facts.max_chars} characters for {model}", len(value))
    if isinstance(value, str) and facts.min_chars is not None and len(value) < facts.min_chars:
        fail(title, loc, "too_short", f"{name} must be at least {facts.min_chars} characters for {model}", value)
    if isinstance(value, list | tuple):
        _check_items(title, model, name, facts, len(value))


def _check_items(title: str, model: str, name: str, facts: FieldSpec, count: int) -> None:
    if (facts.max_items is not None and count > facts.max_items) or (
        facts.min_items is not None and count < facts.min_items
    ):
        bound = _bound(facts.min_items, facts.max_items)
        fail(title, _loc(name), "item_count", f"{name} must hold {bound} items for {model} (got {count})", count)


def _own(model: BaseModel, name: str) -> Any:
    if name in type(model).model_fields:
        return getattr(model, name)
    return (model.__pydantic_extra__ or {}).get(name)


def _is(value: Any, kind: str) -> bool:
    return isinstance(value, _TYPES[kind]) and (kind == "boolean" or not isinstance(value, bool))


def _loc(name: str) -> tuple[str, ...]:
    return tuple(name.split("."))


def _num(value: float | None) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _bound(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"{_num(low)}-{_num(high)}"
    return f"at least {_num(low)}" if low is not None else f"at most {_num(high)}"
