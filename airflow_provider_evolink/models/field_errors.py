"""
Validation errors located at a field: a cross-field rule still points at the field it names, and every message
names the field and the rule (shared by the media references and the request models).
"""

from typing import Any, NoReturn

from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

__all__ = ["fail_at", "field_name"]


def fail_at(title: str, loc: tuple[str | int, ...], rule: str, message: str, value: Any) -> NoReturn:
    """Raise a :class:`ValidationError` located at ``loc`` (a cross-field rule still points at its field).

    ``rule`` becomes the error ``type`` (machine-readable), ``message`` names the field and the rule.
    """
    # Braces would be read as format placeholders by PydanticCustomError.
    safe = message.replace("{", "(").replace("}", ")")
    raise ValidationError.from_exception_data(
        title, [InitErrorDetails(type=PydanticCustomError(rule, safe), loc=loc, input=value)]
    )


def field_name(loc: tuple[str | int, ...]) -> str:
    """``("elements", 0, "frontal_image_url")`` → ``elements[0].frontal_image_url``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else part
    return text
