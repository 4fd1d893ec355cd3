"""Dataset naming and the operators' ``get_openlineage_facets_on_complete``, against the emulator."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeTaskInstance, FakeTaskStateStore, context_of

from airflow_provider_evolink.models import parse_request
from airflow_provider_evolink.openlineage import DatasetName, dataset_name, public_location

SIGNED = "?X-Amz-Signature=abc123&X-Amz-Expires=600"


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("s3://bucket/videos/a.mp4", ("s3://bucket", "videos/a.mp4")),
        ("s3://aws_conn@bucket/videos/a.mp4", ("s3://bucket", "videos/a.mp4")),  # the conn ID is not a name
        ("gs://bucket/a.mp4", ("gs://bucket", "a.mp4")),
        ("gcs://bucket/a.mp4", ("gs://bucket", "a.mp4")),
        ("abfs://azure_conn@container/a.mp4", ("abfs://container", "a.mp4")),
        ("file:///data/videos/a.mp4", ("file", "/data/videos/a.mp4")),
        ("file://localhost/data/a.mp4", ("file", "/data/a.mp4")),
        ("/data/videos/a.mp4", ("file", "/data/videos/a.mp4")),
        (f"https://cdn.example.com/ref.mp4{SIGNED}", ("https://cdn.example.com", "/ref.mp4")),
        ("https://user:pw@CDN.example.com:8443/a/b.mp4#t=3", ("https://cdn.example.com:8443", "/a/b.mp4")),
        ("http://127.0.0.1:8090/files/t/0.mp4?expires=1&sig=2", ("http://127.0.0.1:8090", "/files/t/0.mp4")),
        ("http://[::1]:8090/files/t/0.mp4?sig=2", ("http://[::1]:8090", "/files/t/0.mp4")),
        ("s3://bucket", ("s3://bucket", "/")),
    ],
)
def test_dataset_names_follow_the_openlineage_naming_spec(location: str, expected: tuple[str, str]) -> None:
    assert dataset_name(location) == DatasetName(*expected)


@pytest.mark.parametrize("location", ["", "relative/path.mp4", "https:///no-host", "http://[::1"])
def test_locations_that_name_nothing_have_no_dataset_name(location: str) -> None:
    assert dataset_name(location) is None


def test_an_object_storage_path_is_named_like_its_uri() -> None:
    from airflow.sdk import ObjectStoragePath

    assert dataset_name(ObjectStoragePath("file:///data/a.mp4")) == DatasetName("file", "/data/a.mp4")


def test_public_location_drops_user_info_query_and_fragment() -> None:
    assert public_location(f"https://u:p@cdn.example.com/x/a.mp4{SIGNED}#f") == "https://cdn.example.com/x/a.mp4"
    assert public_location("http://[::1]:8090/a.mp4?sig=1") == "http://[::1]:8090/a.mp4"
    assert public_location("http://[::1") == ""


def test_inputs_are_named_as_the_user_wrote_them_never_with_a_query_string() -> None:
    from airflow_provider_evolink.openlineage.facets import generation_lineage

    request = {
        "model": "kling-o3-reference-to-video",
        "prompt": "/imagine a path-like prompt",
        "video_url": "s3://aws_conn@bucket/refs/ref.mp4",
        "image_urls": [f"https://cdn.example.com/a.jpg{SIGNED}", "/data/face.png"],
        "callback_url": "https://hooks.example.com/evolink",
    }

    lineage = generation_lineage(request, evolink_task_id=None, api_base_url=None, reserved_credits=None)

    assert [(d.namespace, d.name) for d in lineage.inputs] == [
        ("s3://bucket", "refs/ref.mp4"),
        ("https://cdn.example.com", "/a.jpg"),
        ("file", "/data/face.png"),
    ]


def test_an_invalid_request_names_no_inputs() -> None:
    from airflow_provider_evolink.openlineage.facets import generation_lineage

    request = {"model": "kling-o3-reference-to-video", "prompt": "x", "video_url": "relative/ref.mp4"}

    lineage = generation_lineage(request, evolink_task_id=None, api_base_url=None, reserved_credits=None)

    assert lineage.inputs == []
    assert lineage.run_facets["evolink_generation"].model == "kling-o3-reference-to-video"


# ------------------------------------------------------------------------------------------- operators
def _o3(**fields: Any) -> dict[str, Any]:
    return {
        "model": "kling-o3-reference-to-video",
        "prompt": f"a lighthouse at dawn {uuid.uuid4().hex[:8]}",
        "duration": 4,
        "quality": "1080p",
        **fields,
    }


def _context() -> dict[str, Any]:
    return context_of(FakeTaskInstance(), FakeTaskStateStore())


def _json(value: Any) -> Any:
    import json

    from openlineage.client.serde import Serde

    return json.loads(Serde.to_json(value))


def test_generate_lineage_names_inputs_the_task_and_its_credits(emulator: Any) -> None:
    from airflow_provider_evolink.operators.evolink import EvoLinkGenerateVideoOperator

    request = _o3(video_url=f"https://cdn.example.com/ref.mp4{SIGNED}", image_urls=["https://img.example.com/f.png"])
    operator = EvoLinkGenerateVideoOperator(task_id="generate", request=request)
    evolink_task_id = operator.execute(_context())

    lineage = operator.get_openlineage_facets_on_complete(None)

    assert [(d.namespace, d.name) for d in lineage.inputs] == [
        ("https://cdn.example.com", "/ref.mp4"),
        ("https://img.example.com", "/f.png"),
    ]
    assert lineage.outputs == []
    assert lineage.run_facets["externalQuery"].externalQueryId == evolink_task_id
    assert lineage.run_facets["externalQuery"].source == emulator.base_url
    generation = _json(lineage.run_facets["evolink_generation"])
    assert {key: generation[key] for key in generation if not key.startswith("_")} == {
        "model": "kling-o3-reference-to-video",
        "durationSeconds": 4,
        "quality": "1080p",
        "estimatedCredits": pytest.approx(43.2216),  # 10.8054 credits/s x 4 s
        "reservedCredits": pytest.approx(43.2216),
        "estimateSource": "price_list",  # the emulator serves EvoLink's price list
    }


def test_generate_that_waited_outputs_its_results_without_the_signature(emulator: Any) -> None:

    from airflow_provider_evolink.emulator.store import RESULT_NAME
    from airflow_provider_evolink.operators.evolink import EvoLinkGenerateVideoOperator

    operator = EvoLinkGenerateVideoOperator(
        task_id="generate", request=_o3(), wait_for_completion=True, deferrable=False, poll_interval=0.05
    )
    evolink_task_id = operator.execute(_context())

    lineage = operator.get_openlineage_facets_on_complete(None)

    assert [(d.namespace, d.name) for d in lineage.outputs] == [
        (emulator.base_url, f"/files/{evolink_task_id}/{RESULT_NAME}")
    ]
    assert "sig=" not in str([_json(output) for output in lineage.outputs])


def test_generate_that_submitted_nothing_names_no_evolink_task(emulator: Any) -> None:
    from airflow_provider_evolink.compat import AirflowFailException
    from airflow_provider_evolink.operators.evolink import EvoLinkGenerateVideoOperator

    operator = EvoLinkGenerateVideoOperator(task_id="generate", request=_o3(duration=99))
    with pytest.raises(AirflowFailException):
        operator.execute(_context())

    lineage = operator.get_openlineage_facets_on_complete(None)

    assert "externalQuery" not in lineage.run_facets
    assert lineage.run_facets["evolink_generation"].estimatedCredits is None  # the request is invalid
    assert lineage.run_facets["evolink_generation"].reservedCredits is None


def test_save_lineage_reads_the_unsigned_result_and_writes_the_files_with_their_sizes(
    emulator: Any, tmp_path: Path
) -> None:
    from airflow.sdk.execution_time.context import OutletEventAccessors

    from airflow_provider_evolink.emulator.store import RESULT_NAME
    from airflow_provider_evolink.operators.evolink import EvoLinkGenerateVideoOperator
    from airflow_provider_evolink.transfers.evolink_to_storage import EvoLinkToStorageOperator

    generate = EvoLinkGenerateVideoOperator(
        task_id="generate", request=_o3(), wait_for_completion=True, deferrable=False, poll_interval=0.05
    )
    evolink_task_id = generate.execute(_context())
    save = EvoLinkToStorageOperator(task_id="save", evolink_task_id=evolink_task_id, destination=tmp_path.as_uri())
    (uri,) = save.execute({"outlet_events": OutletEventAccessors()})

    lineage = save.get_openlineage_facets_on_complete(None)

    assert [(d.namespace, d.name) for d in lineage.inputs] == [
        (emulator.base_url, f"/files/{evolink_task_id}/{RESULT_NAME}")
    ]
    (output,) = lineage.outputs
    stored = tmp_path / f"{evolink_task_id}.mp4"
    assert uri == stored.as_uri()
    assert (output.namespace, output.name) == ("file", str(stored))
    assert output.outputFacets["outputStatistics"].size == stored.stat().st_size
    assert ".part-" not in str([_json(output) for output in lineage.outputs])


def test_a_typed_catalogue_model_reports_its_default_seconds_and_published_estimate() -> None:
    from airflow_provider_evolink.openlineage.facets import _generation_facet

    request = {"model": "seedance-2.0-fast-text-to-video", "prompt": "a fox", "quality": "480p"}
    facet = _generation_facet(request, parse_request(request), None)
    assert (facet.durationSeconds, facet.estimatedCredits) == (5, 25.315)  # 5 s default × 5.063 credits/s
