"""The example DAGs: they import cleanly, keep the documented Params and wiring, and run against the emulator."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

EXAMPLE_DAGS = Path(__file__).resolve().parents[1] / "example_dags"
DAG_IDS = {
    "evolink_reference_to_video",
    "evolink_motion_control",
    "evolink_batch",
    "evolink_seedance_text_to_video",
    "evolink_model_bakeoff",
    "evolink_review_and_publish",
}
#: The README fixes these names; each DAG uses those that apply to its model.
EXPECTED_PARAMS = {
    "evolink_reference_to_video": {"prompt", "video_url", "duration", "aspect_ratio", "quality", "destination"},
    "evolink_motion_control": {"prompt", "video_url", "image_url", "quality", "destination"},
    "evolink_batch": {"prompt", "video_url", "duration", "aspect_ratio", "quality", "destination"},
    "evolink_seedance_text_to_video": {
        "prompt",
        "tier",
        "duration",
        "aspect_ratio",
        "quality",
        "generate_audio",
        "destination",
    },
    "evolink_model_bakeoff": {"prompt", "models", "duration", "aspect_ratio", "destination"},
    "evolink_review_and_publish": {"prompt", "duration", "quality", "destination"},
}


@pytest.fixture(scope="module")
def dagbag() -> Any:
    from airflow_names import DagBag

    return DagBag(dag_folder=str(EXAMPLE_DAGS))


@pytest.fixture
def dags_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    """A metadata DB, and ``example_dags/`` as the DAGs folder ``dag.test()`` syncs from."""
    from airflow import settings
    from airflow.utils.db import initdb

    initdb()
    monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(EXAMPLE_DAGS))
    monkeypatch.setattr(settings, "DAGS_FOLDER", str(EXAMPLE_DAGS))


def test_example_dags_import_without_errors(dagbag: Any) -> None:
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == DAG_IDS


@pytest.mark.parametrize("dag_id", sorted(DAG_IDS))
def test_each_dag_id_is_its_file_stem(dagbag: Any, dag_id: str) -> None:
    assert Path(dagbag.dags[dag_id].fileloc).stem == dag_id


@pytest.mark.parametrize(("dag_id", "names"), sorted(EXPECTED_PARAMS.items()))
def test_params_use_the_documented_names(dagbag: Any, dag_id: str, names: set[str]) -> None:
    params = dagbag.dags[dag_id].params
    assert set(params.keys()) == names
    # Empty inputs mean "the connection host's sample", so the defaults run against the emulator on any port.
    assert params.get("video_url") is None
    assert params["destination"].startswith("file://")


def _form_requires(schema: dict[str, Any]) -> bool:
    """Airflow 3.3's trigger form marks a param required when its schema has a type that does not allow null;
    an empty box is null there."""
    kind = schema.get("type")
    return bool(kind) and not (isinstance(kind, list) and "null" in kind)


def _server_params(dag: Any) -> Any:
    """The params as the API server (the trigger form and endpoint) has them: from the serialized DAG."""
    from airflow_names import DagSerialization

    return DagSerialization.from_dict(DagSerialization.to_dict(dag)).params


def _serialized_params(dag: Any) -> dict[str, tuple[dict[str, Any], Any]]:
    """``{name: (schema, default)}`` as the trigger form reads them."""
    params = _server_params(dag)
    return {name: (params.get_param(name).schema, params.get_param(name).value) for name in params}


@pytest.mark.parametrize("dag_id", sorted(DAG_IDS))
def test_the_trigger_form_accepts_every_default(dagbag: Any, dag_id: str) -> None:
    for name, (schema, default) in _serialized_params(dagbag.dags[dag_id]).items():
        if _form_requires(schema):
            assert default not in (None, "", []), f"{dag_id}.{name}: required in the form but empty by default"
        else:
            assert default is None, f"{dag_id}.{name}: optional, so its default is the empty box (null)"
    dagbag.dags[dag_id].params.validate()


@pytest.mark.parametrize("dag_id", sorted(DAG_IDS))
def test_a_cleared_choice_is_refused_by_the_form_not_sent_as_null(dagbag: Any, dag_id: str) -> None:
    choices = {
        name: schema for name, (schema, _) in _serialized_params(dagbag.dags[dag_id]).items() if "enum" in schema
    }
    assert choices
    for name, schema in choices.items():
        assert _form_requires(schema), f"{dag_id}.{name}: clearing the choice would send null"
        assert None not in schema["enum"]


@pytest.mark.airflow_min("3.2", reason="ParamsDict.deep_merge, which the trigger endpoint validates a run's conf with")
@pytest.mark.parametrize(
    ("dag_id", "low", "high"),
    [
        ("evolink_reference_to_video", 3, 10),
        ("evolink_batch", 3, 10),
        ("evolink_seedance_text_to_video", 4, 15),
        ("evolink_review_and_publish", 4, 15),
    ],
)
def test_an_out_of_range_duration_is_rejected_not_clamped(dagbag: Any, dag_id: str, low: int, high: int) -> None:
    params = _server_params(dagbag.dags[dag_id])
    duration = params.get_param("duration")
    # The form's number box clamps to a top-level minimum/maximum on blur, so 99 would silently become 10.
    assert "minimum" not in duration.schema
    assert "maximum" not in duration.schema
    for wrong in (low - 1, high + 1, 99, 5.5):
        # What the trigger endpoint does with a run's conf: a 400 with this message, shown in the form.
        # ValueError: Airflow 3.2 raises it bare, 3.3 as its subclass ParamValidationError.
        with pytest.raises(ValueError, match="Invalid input for param duration"):
            params.deep_merge({"duration": wrong}).validate()
    assert params.deep_merge({"duration": high}).validate()["duration"] == high
    assert f"{low} to {high}" in duration.description


def test_the_batch_prompt_box_says_one_prompt_per_line(dagbag: Any) -> None:
    prompt = dagbag.dags["evolink_batch"].params.get_param("prompt")
    assert prompt.schema["type"] == "array"  # the form shows an array of strings as lines of a text box
    assert "one prompt per line" in prompt.description.lower()


@pytest.mark.parametrize("dag_id", sorted(DAG_IDS))
def test_the_destination_param_refuses_what_cannot_work_when_the_run_is_triggered(dagbag: Any, dag_id: str) -> None:
    from airflow.sdk.definitions.param import ParamValidationError

    param = dagbag.dags[dag_id].params.get_param("destination")
    for bad in ("not a uri", "videos/out", "", "s3://"):
        with pytest.raises(ParamValidationError):
            param.resolve(bad)
    for good in ("file:///tmp/videos", "s3://bucket/prefix", "s3://aws@bucket/prefix", "/data/videos"):
        assert param.resolve(good) == good


@pytest.mark.parametrize(
    "dag_id", ["evolink_reference_to_video", "evolink_motion_control", "evolink_seedance_text_to_video"]
)
def test_single_video_dags_chain_generate_deferrable_wait_and_save(dagbag: Any, dag_id: str) -> None:
    from airflow.sdk import Asset

    dag = dagbag.dags[dag_id]
    generate, wait, save = dag.get_task("generate"), dag.get_task("wait"), dag.get_task("save")
    assert type(generate).__name__ == "EvoLinkGenerateVideoOperator"
    assert type(wait).__name__ == "EvoLinkTaskSensor"
    assert type(save).__name__ == "EvoLinkToStorageOperator"
    assert generate.upstream_task_ids == {"build_request"}
    assert wait.upstream_task_ids == {"generate"}
    assert save.upstream_task_ids == {"generate", "wait"}
    assert wait.deferrable is True
    assert generate.max_credits is not None
    assert any(isinstance(outlet, Asset) for outlet in save.outlets)
    assert "{{ run_id }}" in save.destination


def test_review_and_publish_asks_a_person_between_save_and_publish(dagbag: Any) -> None:
    from airflow.sdk import Asset

    from airflow_provider_evolink.models import estimate_credits

    dag = dagbag.dags["evolink_review_and_publish"]
    review = dag.get_task("review")
    assert type(review).__name__ == "EvoLinkVideoReviewBranchOperator"
    assert review.save_task_id == "save"
    assert review.upstream_task_ids == {"save"}
    assert review.downstream_task_ids == {"publish", "mark_rejected"}
    assert review.options_mapping == {"Approve": "publish", "Reject": "mark_rejected"}
    assert review.defaults == ["Reject"]  # nobody answered: nothing is published
    assert review.response_timeout is not None
    [published] = dag.get_task("publish").outlets
    [saved] = dag.get_task("save").outlets
    assert isinstance(published, Asset)
    assert published.name != saved.name  # an event of its own
    request = dag.get_task("build_request").python_callable(params={**dag.params.dump(), "duration": 15})
    assert estimate_credits({**request, "quality": "720p"}) <= dag.get_task("generate").max_credits


def test_batch_fans_out_with_bounded_concurrency_and_saves_per_map_index(dagbag: Any) -> None:
    dag = dagbag.dags["evolink_batch"]
    generate, save = dag.get_task("generate"), dag.get_task("save")
    assert type(generate).__name__ == "MappedOperator"
    assert set(generate.expand_input.value) == {"request"}
    assert generate.partial_kwargs["max_active_tis_per_dagrun"] == 2
    assert generate.partial_kwargs["max_credits"] is not None
    assert generate.partial_kwargs["wait_for_completion"] is True
    assert generate.partial_kwargs["deferrable"] is True
    assert set(save.expand_input.value) == {"evolink_task_id"}
    assert "{{ ti.map_index }}" in save.partial_kwargs["destination"]
    assert dag.params["prompt"]
    assert all(isinstance(prompt, str) for prompt in dag.params["prompt"])


@pytest.mark.parametrize("path", sorted(EXAMPLE_DAGS.glob("*.py")), ids=lambda p: p.name)
def test_templates_use_run_id_because_cli_runs_have_no_logical_date(path: Path) -> None:
    source = path.read_text()
    for parse_time_only in ("{{ ds", "{{ logical_date", "{{ ts"):
        assert parse_time_only not in source


def test_empty_urls_fall_back_to_the_connection_hosts_samples_at_run_time(
    dagbag: Any, evolink_connection: Callable[..., str]
) -> None:
    evolink_connection("http://127.0.0.1:4321", "sk-test")
    base = dagbag.dags["evolink_reference_to_video"].params.dump()
    request = dagbag.dags["evolink_reference_to_video"].get_task("build_request").python_callable(params=base)
    assert request["video_url"] == "http://127.0.0.1:4321/samples/reference.mp4"
    assert request["duration"] == base["duration"]

    motion = dagbag.dags["evolink_motion_control"]
    request = motion.get_task("build_request").python_callable(params=motion.params.dump())
    assert request["image_urls"] == ["http://127.0.0.1:4321/samples/character.jpg"]
    assert request["video_urls"] == [str(EXAMPLE_DAGS / "samples" / "dance.mp4")]  # a local file: uploaded

    batch = dagbag.dags["evolink_batch"]
    params = {**batch.params.dump(), "video_url": "https://cdn.example.com/ref.mp4"}
    requests = batch.get_task("build_requests").python_callable(params=params)
    assert [r["prompt"] for r in requests] == params["prompt"]
    assert {r["video_url"] for r in requests} == {"https://cdn.example.com/ref.mp4"}


def _video(path: Path) -> tuple[float, int, int, str]:
    """Seconds, width, height and codec of an MP4, read back with PyAV."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return (container.duration or 0) / av.time_base, stream.width, stream.height, stream.codec_context.name


def test_reference_to_video_runs_end_to_end_against_the_emulator(
    dagbag: Any, dags_folder: None, emulator: Any, tmp_path: Path
) -> None:
    conf = {"duration": 3, "aspect_ratio": "9:16", "destination": tmp_path.as_uri()}
    run = dagbag.dags["evolink_reference_to_video"].test(run_conf=conf)

    assert run.state == "success"
    (video,) = tmp_path.rglob("*.mp4")
    assert video.parent.name == run.run_id
    assert video.name.startswith("task-unified-")
    seconds, width, height, codec = _video(video)
    assert codec == "h264"
    assert seconds == pytest.approx(3, abs=0.25)
    assert height > width  # 9:16
    # The worker computed the save task's "Stored video" button: no console page for a local folder.
    assert _xcom(run, "save", "_link_StoredVideoLink") == ""


def _xcom(run: Any, task_id: str, key: str) -> Any:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        (row,) = session.scalars(XComModel.get_many(run_id=run.run_id, key=key, task_ids=task_id)).all()
        return XComModel.deserialize_value(row)


def test_motion_control_runs_end_to_end_against_the_emulator(
    dagbag: Any, dags_folder: None, emulator: Any, tmp_path: Path
) -> None:
    start = len(emulator.requests())
    run = dagbag.dags["evolink_motion_control"].test(run_conf={"destination": tmp_path.as_uri()})

    assert run.state == "success"
    (video,) = tmp_path.rglob("*.mp4")
    seconds, _, _, codec = _video(video)
    assert codec == "h264"
    assert seconds == pytest.approx(5, abs=0.25)  # as long as the emulator's reference video
    uploads = [e for e in emulator.requests()[start:] if e["host"] == "files" and e["method"] == "POST"]
    assert len(uploads) == 1  # the shipped local sample video


def test_motion_control_takes_its_image_from_private_s3_and_its_video_from_a_local_file(
    dagbag: Any, dags_folder: None, emulator: Any, s3_bucket: str, tmp_path: Path
) -> None:
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_evolink.emulator import media

    image = ObjectStoragePath(f"s3://aws_moto@{s3_bucket}/characters/hero.jpg")
    image.write_bytes(media.character_image().data)
    conf = {"image_url": str(image), "destination": tmp_path.as_uri()}
    run = dagbag.dags["evolink_motion_control"].test(run_conf=conf)

    assert run.state == "success"  # the emulator fetched the signed link (an unsigned one is refused: 403)
    assert len(list(tmp_path.rglob("*.mp4"))) == 1


def test_batch_saves_one_video_per_prompt_under_its_map_index(
    dagbag: Any, dags_folder: None, emulator: Any, tmp_path: Path
) -> None:
    prompts = ["a lighthouse", "a fox in fresh snow, close-up, golden hour, slow motion"]
    conf = {"prompt": prompts, "duration": 3, "destination": tmp_path.as_uri()}
    run = dagbag.dags["evolink_batch"].test(run_conf=conf)

    assert run.state == "success"
    videos = sorted(tmp_path.rglob("*.mp4"))
    assert [video.parent.name for video in videos] == ["0", "1"]
    assert len({video.name for video in videos}) == 2  # two EvoLink tasks, one per prompt
    # The UI names each mapped instance: generate by its prompt (shortened), save by its EvoLink task ID.
    names = {(ti.task_id, ti.map_index): ti.rendered_map_index for ti in run.get_task_instances()}
    assert [names["generate", 0], names["generate", 1]] == ["a lighthouse", "a fox in fresh snow, close-up, golden h…"]
    assert {names["save", 0], names["save", 1]} == {video.stem for video in videos}
    assert all(_video(video)[0] == pytest.approx(3, abs=0.25) for video in videos)


def test_the_seedance_defaults_fit_the_model_and_its_budget(dagbag: Any) -> None:
    from airflow_provider_evolink.models import SeedanceTextToVideoRequest, estimate_credits, parse_request

    dag = dagbag.dags["evolink_seedance_text_to_video"]
    request = dag.get_task("build_request").python_callable(params=dag.params.dump())
    assert type(parse_request(request)) is SeedanceTextToVideoRequest
    longest = {**request, "model": "seedance-2.0-text-to-video", "duration": 15, "quality": "720p"}
    assert estimate_credits(longest) <= dag.get_task("generate").max_credits  # the dearest form choice still runs


def test_seedance_text_to_video_runs_end_to_end_with_a_sound_track(
    dagbag: Any, dags_folder: None, emulator: Any, tmp_path: Path
) -> None:
    import av

    conf = {"duration": 4, "aspect_ratio": "9:16", "tier": "standard", "destination": tmp_path.as_uri()}
    run = dagbag.dags["evolink_seedance_text_to_video"].test(run_conf=conf)

    assert run.state == "success"
    (video,) = tmp_path.rglob("*.mp4")
    seconds, width, height, codec = _video(video)
    assert (codec, height > width) == ("h264", True)
    assert seconds == pytest.approx(4, abs=0.25)
    with av.open(str(video)) as container:
        assert [stream.type for stream in container.streams] == ["video", "audio"]


def test_the_bakeoff_offers_models_every_request_of_which_fits_its_budget(dagbag: Any) -> None:
    from airflow_provider_evolink.models import estimate_credits, parse_request

    dag = dagbag.dags["evolink_model_bakeoff"]
    models = dag.params.get_param("models")
    assert models.schema["items"]["enum"] == models.schema["examples"]  # the form's multi-select
    offered = {**dag.params.dump(), "models": models.schema["examples"], "duration": 15}
    requests = dag.get_task("build_requests").python_callable(params=offered)
    assert [request["model"] for request in requests] == models.schema["examples"]
    generate = dag.get_task("generate")
    for request in requests:  # the longest video of each: priced by the catalogue, within max_credits
        assert estimate_credits(parse_request(request)) <= generate.partial_kwargs["max_credits"]
    assert set(generate.expand_input.value) == {"request"}


def test_the_bakeoff_compares_models_in_its_asset_events(
    dagbag: Any, dags_folder: None, emulator: Any, tmp_path: Path
) -> None:
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session
    from sqlalchemy import select

    run = dagbag.dags["evolink_model_bakeoff"].test(run_conf={"destination": tmp_path.as_uri()})  # the defaults

    assert run.state == "success"
    models = {"seedance-2.0-fast-text-to-video", "kling-o3-text-to-video", "kling-v3-text-to-video"}
    assert {video.parent.name for video in tmp_path.rglob("*.mp4")} == models  # <run id>/<model>/<task>.mp4
    with create_session() as session:
        extras = [
            event.extra for event in session.scalars(select(AssetEvent).where(AssetEvent.source_run_id == run.run_id))
        ]
    assert {extra["model"] for extra in extras} == models
    for extra in extras:
        usage = extra["usage"]
        assert usage["estimate_source"] == "price_list"  # the emulator serves EvoLink's price list
        assert usage["credits_estimated"] == pytest.approx(usage["credits_reserved"])
        assert isinstance(extra["render_seconds"], int)
    by_model = {extra["model"]: extra["usage"]["credits_reserved"] for extra in extras}
    assert by_model == pytest.approx(
        {"seedance-2.0-fast-text-to-video": 54.675, "kling-o3-text-to-video": 27.0, "kling-v3-text-to-video": 27.0}
    )
