"""Validation of create requests (``POST /v1/videos/generations``) against the shipped OpenAPI documents.

The known models are those of ``airflow_provider_evolink/api_reference/catalogue.json`` (a data file the client
reads too; the emulator never imports the client's code). Each is validated with JSON Schema 2020-12 (what OpenAPI
3.1 uses) against ``components/schemas/<model id>`` (a family's document, e.g. ``seedance-2.0.openapi.yaml``) or
``components/schemas/VideoGenerationRequest`` of its contract document in
``airflow_provider_evolink/api_reference/openapi/`` (the same documents the client's API reference cites); a rule
over several fields carries its field and wording (``x-param``, ``x-rule``). ``$ref``\\ s are resolved through a
``referencing`` registry; O3 reference-to-video is widened by exactly the alternatives
``airflow_provider_evolink/api_reference/evolink-api.md`` lists under "Where the documents disagree". The rules
a schema cannot say (cross-field, from the same documents and their API pages) follow in plain code.

This module deliberately shares nothing with ``airflow_provider_evolink.models``: the emulator exists to catch
the client's mistakes, not to repeat them.
"""

from __future__ import annotations

import functools
import ipaddress
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.resources import files
from typing import Any
from urllib.parse import urlsplit

import yaml
from jsonschema import Draft202012Validator, FormatChecker, ValidationError
from jsonschema.exceptions import best_match
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from .family_rules import FAMILY_RULES

KLING_O3_REFERENCE_TO_VIDEO = "kling-o3-reference-to-video"
KLING_V3_MOTION_CONTROL = "kling-v3-motion-control"


@functools.cache
def catalogue() -> dict[str, dict[str, Any]]:
    """Every typed model's entry of ``api_reference/catalogue.json`` (its contract document, duration, quality and
    sound defaults, price), read once. The client reads the same data file, never the emulator's code."""
    text = (files("airflow_provider_evolink") / "api_reference" / "catalogue.json").read_text(encoding="utf-8")
    models: dict[str, dict[str, Any]] = json.loads(text)["models"]
    return models


#: Model ids the emulator knows the rules of; any other id is ``model_access_denied`` unless configured otherwise.
KNOWN_MODELS = frozenset(catalogue())

DEFAULT_DURATION = 5  # seconds, the O3 document's default
_MAX_DURATION_WITH_VIDEO = 10
_MAX_REFERENCES_WITH_VIDEO = 4
_MAX_CALLBACK_URL_CHARS = 2048

_FORMATS = FormatChecker(formats=())


@_FORMATS.checks("uri")
def _is_http_url(value: object) -> bool:
    # ``format: uri`` in the documents: media and callbacks are fetched over HTTP, so an absolute http(s) URL.
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


@dataclass(frozen=True)
class Problem:
    """Why a request is invalid: ``param`` is the field (dotted path), ``message`` names it and the rule."""

    param: str
    message: str


def validate_request(body: dict[str, Any]) -> Problem | None:
    """The first problem of a create request for a known model (``body["model"]`` in :data:`KNOWN_MODELS`).

    :returns: ``None`` when the request is valid.
    """
    model = body["model"]
    error = best_match(_validator(model).iter_errors(body))
    if error is not None:
        return _schema_problem(body, error)
    family_rule = FAMILY_RULES.get(model)  # the families typed from EvoLink's index (.family_rules)
    if family_rule is not None and (found := family_rule(body)) is not None:
        return Problem(*found)
    return _CROSS_FIELD_RULES.get(model, _callback_rule)(body)  # every other typed model: its schema says it all


def reference_video_given(body: dict[str, Any]) -> bool:
    """Whether an O3 request carries a reference video (``video_url``, ``video_urls`` or ``video``)."""
    return any(body.get(name) for name in ("video_url", "video_urls", "video"))


# ------------------------------------------------------------------------------------------- schemas
def _widen_o3(request: dict[str, Any]) -> None:
    """O3 ``VideoGenerationRequest`` widened by the alternatives of
    ``airflow_provider_evolink/api_reference/evolink-api.md`` (fields documented on the API pages)."""
    properties = request["properties"]
    # prompt may be omitted in multi-shot mode: checked in _o3_rules.
    request["required"] = [name for name in request["required"] if name != "prompt"]
    # Without a reference video: 3-15 s and 4k (images-and-elements page); with one, _o3_rules narrows again.
    properties["duration"]["maximum"] = 15
    properties["quality"]["enum"] = [*properties["quality"]["enum"], "4k"]
    properties["generate_audio"] = {"type": "boolean"}
    # video_urls (first used) or video may stand for video_url (API page).
    properties["video_urls"] = {"type": "array", "minItems": 1, "items": {"type": "string", "format": "uri"}}
    properties["video"] = {"type": "string", "format": "uri"}
    properties["elements"] = {"type": "array", "items": {"type": "object"}}
    params = properties["model_params"]["properties"]
    params["element_list"]["items"]["properties"]["element_id"]["type"] = ["string", "integer"]
    params["multi_shot"] = {"type": "boolean"}
    params["shot_type"] = {"type": "string", "enum": ["customize"]}
    params["multi_prompt"] = {
        "type": "array",
        "minItems": 1,
        "maxItems": 6,
        "items": {
            "type": "object",
            "required": ["prompt", "duration"],
            "properties": {
                "index": {"type": "integer", "minimum": 1},
                "prompt": {"type": "string", "maxLength": 2500},
                "duration": {"type": ["integer", "string"], "pattern": "^[0-9]+$", "minimum": 1},
            },
        },
    }


_WIDENINGS: dict[str, Callable[[dict[str, Any]], None]] = {KLING_O3_REFERENCE_TO_VIDEO: _widen_o3}


#: The OpenAPI documents the client's API reference cites too (``api_reference/`` ships in the wheel).
_OPENAPI = files("airflow_provider_evolink") / "api_reference" / "openapi"


@functools.cache
def _validator(model: str) -> Draft202012Validator:
    """The validator of ``model``'s create request: ``components/schemas/<model id>`` of its contract document
    (a family's document), else that document's ``VideoGenerationRequest`` (one document per model)."""
    document_name = catalogue()[model]["contract"]
    document = yaml.safe_load((_OPENAPI / document_name).read_text(encoding="utf-8"))
    schemas = document["components"]["schemas"]
    name = model if model in schemas else "VideoGenerationRequest"
    widen = _WIDENINGS.get(model)
    if widen is not None:
        widen(schemas[name])
    uri = f"urn:evolink:{document_name}"
    registry: Registry[Any] = Registry().with_resource(uri, DRAFT202012.create_resource(document))
    schema = {"$ref": f"{uri}#/components/schemas/{name}"}
    return Draft202012Validator(schema, registry=registry, format_checker=_FORMATS)


def _schema_problem(body: dict[str, Any], error: ValidationError) -> Problem:
    # A rule over several fields names its field and wording in the schema (x-param, x-rule).
    owner: Any = error
    while owner is not None and "x-rule" not in (owner.schema if isinstance(owner.schema, dict) else {}):
        owner = owner.parent
    if owner is not None and isinstance(owner.schema, dict):
        return Problem(owner.schema["x-param"], owner.schema["x-rule"])
    path: list[str | int] = list(error.absolute_path)
    instance: Any = error.instance
    limit: Any = error.validator_value
    if error.schema is False:
        # A field the model does not take: jsonschema leaves its name out of the path, so find it by its value.
        path.append(_field_holding(body, path, instance))
        rule = f"is not accepted by {body['model']}"
    elif error.validator == "required":
        path.append(next(name for name in limit if name not in instance))
        rule = "is required"
    elif error.validator == "maxLength":
        rule = f"must be at most {limit} characters"
    elif error.validator in ("maxItems", "minItems"):
        bound = "most" if error.validator == "maxItems" else "least"
        rule = f"must have at {bound} {limit} item(s), got {len(instance)}"
    elif error.validator == "format":
        rule = f"must be an absolute http(s) URL, got {instance!r}"
    else:
        rule = f"fails '{error.validator}': {error.message[:200]}"
    param = _dotted(path)
    return Problem(param, f"{param} {rule}")


def _field_holding(body: dict[str, Any], path: list[str | int], value: Any) -> str:
    node: Any = body
    for part in path:
        node = node[part]
    return next((name for name, held in node.items() if held is value), "?")


def _dotted(path: Iterable[str | int]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else part
    return text


# ------------------------------------------------------------------------------------ cross-field rules
def _o3_rules(body: dict[str, Any]) -> Problem | None:
    """O3 rules from the API pages: multi-shot, and the narrower limits that apply with a reference video."""
    params = body.get("model_params") or {}
    shots = params.get("multi_prompt") if params.get("multi_shot") else None
    if params.get("multi_shot") and "shot_type" not in params:
        return Problem(
            "model_params.shot_type", "model_params.shot_type is required when model_params.multi_shot is true"
        )
    if params.get("multi_shot") and not shots:
        return Problem(
            "model_params.multi_prompt", "model_params.multi_prompt is required when model_params.multi_shot is true"
        )
    if "prompt" not in body and not shots:
        return Problem("prompt", "prompt is required unless model_params.multi_shot is true with multi_prompt")
    duration = body.get("duration", DEFAULT_DURATION)
    if shots:
        total = sum(int(shot["duration"]) for shot in shots)
        if total != duration:
            return Problem(
                "model_params.multi_prompt",
                f"model_params.multi_prompt: shot durations sum to {total} s but duration is {duration} s",
            )
    if reference_video_given(body):
        if duration > _MAX_DURATION_WITH_VIDEO:
            return Problem("duration", f"duration must be 3-10 seconds with a reference video, got {duration}")
        if body.get("quality") == "4k":
            return Problem("quality", "quality must be 720p or 1080p with a reference video ('4k' needs none)")
        if body.get("generate_audio"):
            return Problem("generate_audio", "generate_audio must not be true with a reference video (sound is off)")
        references = (
            len(body.get("image_urls") or ()) + len(params.get("element_list") or ()) + len(body.get("elements") or ())
        )
        if references > _MAX_REFERENCES_WITH_VIDEO:
            return Problem(
                "image_urls",
                f"image_urls + model_params.element_list + elements must be at most 4 with a reference video, "
                f"got {references}",
            )
    return _callback_rule(body)


def _motion_control_rules(body: dict[str, Any]) -> Problem | None:
    """Motion control: one image, one video, and ``character_orientation: video`` when an element is used."""
    for name, what in (("image_urls", "reference image"), ("video_urls", "reference video")):
        if len(body[name]) != 1:
            return Problem(name, f"{name} must contain exactly one {what}, got {len(body[name])}")
    params = body["model_params"]
    if params.get("element_list") and params["character_orientation"] != "video":
        return Problem(
            "model_params.character_orientation",
            "model_params.character_orientation must be 'video' when model_params.element_list is used",
        )
    return _callback_rule(body)


def _shots_rule(body: dict[str, Any]) -> Problem | None:
    """Kling text/image-to-video multi-shot (``customize``): the shots' durations add up to ``duration``."""
    params = body.get("model_params") or {}
    if params.get("multi_shot") and params.get("shot_type") == "customize":
        total = sum(int(shot["duration"]) for shot in params.get("multi_prompt") or ())
        duration = body.get("duration", DEFAULT_DURATION)
        if total != duration:
            return Problem(
                "model_params.multi_prompt",
                f"model_params.multi_prompt: shot durations sum to {total} s but duration is {duration} s",
            )
    return _callback_rule(body)


def _video_edit_rule(body: dict[str, Any]) -> Problem | None:
    """Kling O3 video edit: reference images and elements together are at most 4."""
    references = len(body.get("image_urls") or ()) + len((body.get("model_params") or {}).get("element_list") or ())
    if references > _MAX_REFERENCES_WITH_VIDEO:
        return Problem(
            "image_urls",
            f"image_urls + model_params.element_list must be at most 4 with a video to edit, got {references}",
        )
    return _callback_rule(body)


def _callback_rule(body: dict[str, Any]) -> Problem | None:
    """``callback_url``: HTTPS only, at most 2048 characters, no private or loopback host."""
    url = body.get("callback_url")
    if url is None:
        return None
    if len(url) > _MAX_CALLBACK_URL_CHARS:
        return Problem("callback_url", f"callback_url must be at most 2048 characters, got {len(url)}")
    host = urlsplit(url).hostname or ""
    if not url.startswith("https://") or not host:
        return Problem("callback_url", "callback_url must be an https:// URL")
    try:
        internal = host == "localhost" or not ipaddress.ip_address(host).is_global
    except ValueError:  # a host name: whether it resolves to a public address is EvoLink's business
        internal = False
    if internal:
        return Problem("callback_url", f"callback_url must not point at an internal address ({host})")
    return None


_CROSS_FIELD_RULES: dict[str, Callable[[dict[str, Any]], Problem | None]] = {
    KLING_O3_REFERENCE_TO_VIDEO: _o3_rules,
    KLING_V3_MOTION_CONTROL: _motion_control_rules,
    "kling-o3-video-edit": _video_edit_rule,
    **dict.fromkeys(
        ("kling-o3-text-to-video", "kling-o3-image-to-video", "kling-v3-text-to-video", "kling-v3-image-to-video"),
        _shots_rule,
    ),
}
