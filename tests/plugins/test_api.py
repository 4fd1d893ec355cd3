"""The gallery's HTTP API on Airflow's API server: who sees what, Range streams from any store, posters."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_evolink.compat import AIRFLOW_V_3_4_PLUS
from airflow_provider_evolink.plugins.gallery import TAB_OPERATORS

from .conftest import BATCH, BATCH_PROMPTS, MOTION, PROMPT, REFERENCE, GalleryRuns

LIST = "/evolink/api/videos"


def list_videos(client: Any, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    response = client.get(LIST, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def card_of(client: Any, headers: dict[str, str], run: Any) -> dict[str, Any]:
    [card] = [video for video in list_videos(client, headers)["videos"] if video["run_id"] == run.run_id]
    return card


def url(card: dict[str, Any], what: str = "stream") -> str:
    return f"/evolink/api/{card[what]}"


@pytest.fixture(scope="module")
def local_card(api_client: Any, admin: dict[str, str], gallery_runs: GalleryRuns) -> dict[str, Any]:
    return card_of(api_client, admin, gallery_runs.local)


@pytest.fixture(scope="module")
def local_bytes(gallery_runs: GalleryRuns) -> bytes:
    [video] = (gallery_runs.folder / gallery_runs.local.run_id).glob("*.mp4")
    return video.read_bytes()


# ------------------------------------------------------------------------------------------ authentication
@pytest.mark.parametrize("path", ["/evolink/videos", "/evolink/static/gallery.js", LIST])
def test_every_route_needs_an_authenticated_user(api_client: Any, path: str) -> None:
    assert api_client.get(path).status_code == 401
    assert api_client.get(path, headers={"Authorization": "Bearer not-a-token"}).status_code in (401, 403)


def test_video_and_poster_need_an_authenticated_user(api_client: Any, local_card: dict[str, Any]) -> None:
    assert api_client.get(url(local_card)).status_code == 401
    assert api_client.get(url(local_card, "poster")).status_code == 401


def test_the_browser_cookie_authenticates_like_the_airflow_ui(
    api_client: Any, admin: dict[str, str], local_card: dict[str, Any]
) -> None:
    token = admin["Authorization"].removeprefix("Bearer ")
    response = api_client.get(url(local_card), cookies={"_token": token}, headers={"Range": "bytes=0-9"})
    assert response.status_code == 206


# ------------------------------------------------------------------------------------------ the list
def test_list_is_newest_first_with_prompt_model_seconds_quality_size_and_credits(
    api_client: Any, admin: dict[str, str], gallery_runs: GalleryRuns, local_bytes: bytes
) -> None:
    page = list_videos(api_client, admin)

    assert page["total_entries"] == 5
    runs = [gallery_runs.batch.run_id] * 2 + [gallery_runs.motion.run_id, gallery_runs.s3.run_id]
    assert [video["run_id"] for video in page["videos"]] == [*runs, gallery_runs.local.run_id]
    card = page["videos"][-1]
    assert card["prompt"] == PROMPT
    assert card["model"] == "kling-o3-reference-to-video"
    assert (card["duration"], card["quality"], card["bytes"]) == (3, "720p", len(local_bytes))
    assert card["credits_reserved"] > 0
    assert card["billing_rule"] == "per_second"
    # The estimate and its source beside the reservation (the emulator's price list prices O3 as it reserves).
    assert (card["credits_estimated"], card["estimate_source"]) == (card["credits_reserved"], "price_list")
    assert card["render_seconds"] is None  # the reference DAG's generate task does not wait: a sensor does
    assert (card["dag_id"], card["task_id"], card["map_index"], card["asset"]) == (
        REFERENCE,
        "save",
        -1,
        "evolink/reference_to_video",
    )
    assert card["file_name"].endswith(".mp4")
    assert "uri" not in card  # only the file name leaves the server
    motion = page["videos"][2]
    assert motion["duration"] == 5  # not in the request: EvoLink's task detail says how long it is
    assert (motion["prompt"], motion["quality"]) == (None, "720p")  # the DAG's optional prompt was left empty
    assert page["dag_ids"] == [BATCH, MOTION, REFERENCE]
    assert page["models"] == ["kling-o3-reference-to-video", "kling-v3-motion-control"]


def test_mapped_save_task_instances_each_get_their_own_prompt_and_credits(
    api_client: Any, admin: dict[str, str], gallery_runs: GalleryRuns
) -> None:
    videos = list_videos(api_client, admin, dag_id=BATCH)["videos"]

    by_index = {video["map_index"]: video for video in videos}
    assert sorted(by_index) == [0, 1]
    assert [by_index[index]["prompt"] for index in (0, 1)] == BATCH_PROMPTS
    assert all(video["credits_reserved"] > 0 for video in videos)
    assert len({video["evolink_task_id"] for video in videos}) == 2


def test_list_filters_by_dag_and_model_and_pages(
    api_client: Any, admin: dict[str, str], gallery_runs: GalleryRuns
) -> None:
    by_dag = list_videos(api_client, admin, dag_id=MOTION)
    assert [video["run_id"] for video in by_dag["videos"]] == [gallery_runs.motion.run_id]
    by_model = list_videos(api_client, admin, model="kling-o3-reference-to-video")
    assert by_model["total_entries"] == 4
    fourth = list_videos(api_client, admin, offset=3, limit=1)
    assert (fourth["total_entries"], [v["run_id"] for v in fourth["videos"]]) == (5, [gallery_runs.s3.run_id])
    assert api_client.get(LIST, params={"limit": 0}, headers=admin).status_code == 422
    assert api_client.get(LIST, params={"limit": 101}, headers=admin).status_code == 422


def test_list_narrows_to_one_task_instance_for_the_task_instance_tab(
    api_client: Any, admin: dict[str, str], gallery_runs: GalleryRuns
) -> None:
    run_id = gallery_runs.local.run_id
    tab = list_videos(api_client, admin, dag_id=REFERENCE, run_id=run_id, task_id="save", map_index=-1)
    assert [video["run_id"] for video in tab["videos"]] == [run_id]
    assert list_videos(api_client, admin, dag_id=REFERENCE, run_id=run_id, task_id="generate")["videos"] == []


# ------------------------------------------------------------------------------------------ authorization
def test_a_user_denied_a_dag_sees_none_of_its_videos_and_gets_403_on_its_urls(
    api_client: Any, admin: dict[str, str], viewer: dict[str, str], gallery_runs: GalleryRuns
) -> None:
    denied = card_of(api_client, admin, gallery_runs.motion)

    page = list_videos(api_client, viewer)
    assert page["total_entries"] == 4
    assert MOTION not in {video["dag_id"] for video in page["videos"]}
    assert page["dag_ids"] == [BATCH, REFERENCE]
    assert "kling-v3-motion-control" not in page["models"]
    assert list_videos(api_client, viewer, dag_id=MOTION)["videos"] == []
    assert api_client.get(url(denied), headers=viewer).status_code == 403
    assert api_client.get(url(denied, "poster"), headers=viewer).status_code == 403
    assert api_client.get(url(denied), headers={**admin, "Range": "bytes=0-0"}).status_code == 206


def test_a_url_naming_another_dag_or_asset_than_the_events_own_is_404(
    api_client: Any, viewer: dict[str, str], local_card: dict[str, Any]
) -> None:
    # The viewer may read REFERENCE: pointing a REFERENCE URL at the motion DAG's event must not open it.
    _, dag_id, _, asset_id, _, event_id, _, index, what = local_card["stream"].split("/")
    for other in (
        f"dags/{dag_id}/assets/{int(asset_id) + 99}/events/{event_id}/files/{index}/{what}",
        f"dags/{dag_id}/assets/{asset_id}/events/{int(event_id) + 999}/files/{index}/{what}",
        f"dags/{dag_id}/assets/{asset_id}/events/{event_id}/files/1/{what}",
    ):
        assert api_client.get(f"/evolink/api/{other}", headers=viewer).status_code == 404


def test_only_uris_recorded_by_the_transfer_are_served(
    api_client: Any, admin: dict[str, str], gallery_runs: GalleryRuns, local_card: dict[str, Any]
) -> None:
    # An event that claims to be EvoLink's but was not emitted by a transfer task (here: by "generate").
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session

    forged = {"source": "evolink", "model": "x", "files": [{"uri": "file:///etc/passwd", "bytes": 1}]}
    with create_session() as session:
        event = AssetEvent(
            asset_id=int(local_card["stream"].split("/")[3]),
            extra=forged,
            source_dag_id=REFERENCE,
            source_task_id="generate",
            source_run_id=gallery_runs.local.run_id,
            source_map_index=-1,
        )
        session.add(event)
        session.flush()
        forged_url = local_card["stream"].replace(f"/events/{local_card['id'].split('-')[0]}/", f"/events/{event.id}/")

    assert api_client.get(f"/evolink/api/{forged_url}", headers=admin).status_code == 404
    assert list_videos(api_client, admin)["total_entries"] == 5


# ------------------------------------------------------------------------------------------ Range
def test_whole_video_without_range(api_client: Any, admin: dict[str, str], local_card: Any, local_bytes: bytes) -> None:
    response = api_client.get(url(local_card), headers=admin)
    assert response.status_code == 200
    assert response.content == local_bytes
    assert response.headers["content-type"] == "video/mp4"
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["content-length"] == str(len(local_bytes))


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes=0-99", 0, 99),  # the first bytes
        ("bytes=1000-1999", 1000, 1999),  # a middle range
        ("bytes=-1", -1, -1),  # the last byte, as a suffix
        ("bytes=LAST-", -1, -1),  # the last byte, by offset
        ("bytes=3000-999999999", 3000, -1),  # a last byte past the end is clipped (the small video has ~5 KB)
    ],
)
def test_range_requests_answer_206_with_exactly_those_bytes(
    api_client: Any, admin: dict[str, str], local_card: Any, local_bytes: bytes, header: str, first: int, last: int
) -> None:
    size = len(local_bytes)
    header = header.replace("LAST", str(size - 1))
    first, last = first % size, last % size

    response = api_client.get(url(local_card), headers={**admin, "Range": header})

    assert response.status_code == 206
    assert response.content == local_bytes[first : last + 1]
    assert response.headers["content-range"] == f"bytes {first}-{last}/{size}"
    assert response.headers["content-length"] == str(last - first + 1)


@pytest.mark.parametrize("header", ["bytes=SIZE-", "bytes=SIZE-SIZE", "bytes=-0"])
def test_a_range_outside_the_video_is_416(
    api_client: Any, admin: dict[str, str], local_card: Any, local_bytes: bytes, header: str
) -> None:
    size = len(local_bytes)
    response = api_client.get(url(local_card), headers={**admin, "Range": header.replace("SIZE", str(size))})
    assert response.status_code == 416
    assert response.headers["content-range"] == f"bytes */{size}"
    assert response.content == b""


def test_an_s3_video_streams_in_bounded_ranged_reads(
    api_client: Any, admin: dict[str, str], gallery_runs: GalleryRuns, monkeypatch: pytest.MonkeyPatch
) -> None:
    import s3fs
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_evolink.plugins.streaming import CHUNK_BYTES

    card = card_of(api_client, admin, gallery_runs.s3)
    [stored] = ObjectStoragePath(f"s3://aws_moto@evolink-results/gallery/{gallery_runs.s3.run_id}").iterdir()
    original = stored.read_bytes()
    big = bytes(range(256)) * (12 * CHUNK_BYTES // 256)  # 12 MiB: many chunks
    fetched: list[int] = []
    real_fetch = s3fs.core.S3File._fetch_range

    def recording_fetch(self: Any, start: int, end: int) -> bytes:
        fetched.append(end - start)
        return real_fetch(self, start, end)

    monkeypatch.setattr(s3fs.core.S3File, "_fetch_range", recording_fetch)
    stored.write_bytes(big)
    try:
        whole = api_client.get(url(card), headers=admin)
        whole_fetches = list(fetched)
        fetched.clear()
        middle = api_client.get(url(card), headers={**admin, "Range": "bytes=6000000-6000099"})
    finally:
        stored.write_bytes(original)

    assert whole.status_code == 200
    assert whole.content == big
    assert max(whole_fetches) <= 2 * CHUNK_BYTES  # never the whole object in one read
    assert sum(whole_fetches) <= len(big) + 2 * CHUNK_BYTES
    assert (middle.status_code, middle.content) == (206, big[6_000_000:6_000_100])
    assert sum(fetched) <= 2 * CHUNK_BYTES  # a seek reads near the range, not from the start


def test_a_video_deleted_from_its_store_is_404(
    api_client: Any, admin: dict[str, str], gallery_runs: GalleryRuns, local_card: Any, local_bytes: bytes
) -> None:
    [video] = (gallery_runs.folder / gallery_runs.local.run_id).glob("*.mp4")
    video.rename(video.with_suffix(".moved"))
    try:
        assert api_client.get(url(local_card), headers=admin).status_code == 404
    finally:
        video.with_suffix(".moved").rename(video)


# ------------------------------------------------------------------------------------------ posters
def test_poster_is_a_jpeg_made_once_then_served_from_the_cache(
    api_client: Any, admin: dict[str, str], local_card: Any, poster_cache: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_provider_evolink.plugins import posters

    made: list[Any] = []
    real = posters.first_keyframe_jpeg
    monkeypatch.setattr(posters, "first_keyframe_jpeg", lambda path: made.append(path) or real(path))

    first = api_client.get(url(local_card, "poster"), headers=admin)
    second = api_client.get(url(local_card, "poster"), headers=admin)

    assert first.status_code == second.status_code == 200
    assert first.headers["content-type"] == "image/jpeg"
    assert first.content[:3] == b"\xff\xd8\xff"  # JPEG
    assert second.content == first.content
    assert len(made) == 1
    assert [path.suffix for path in (poster_cache / "posters").iterdir()] == [".jpg"]


def test_poster_is_the_first_frame_never_wider_than_the_poster_width(gallery_runs: GalleryRuns) -> None:
    import io

    import av
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_evolink.plugins.posters import POSTER_WIDTH, first_keyframe_jpeg

    [video] = (gallery_runs.folder / gallery_runs.local.run_id).glob("*.mp4")
    with av.open(str(video)) as source:
        stream = source.streams.video[0]
        width, height = stream.width, stream.height
    jpeg = first_keyframe_jpeg(ObjectStoragePath(f"file://{video}"))
    with av.open(io.BytesIO(jpeg)) as image:
        frame = next(image.decode(video=0))
    assert frame.width == min(POSTER_WIDTH, width)  # never upscaled
    assert frame.height == pytest.approx(height * frame.width / width, abs=2)


def test_a_poster_from_s3_reads_small_ranges_not_a_large_block(
    gallery_runs: GalleryRuns, monkeypatch: pytest.MonkeyPatch
) -> None:
    import s3fs
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_evolink.plugins.posters import first_keyframe_jpeg
    from airflow_provider_evolink.plugins.streaming import CHUNK_BYTES

    [stored] = ObjectStoragePath(f"s3://aws_moto@evolink-results/gallery/{gallery_runs.s3.run_id}").iterdir()
    original = stored.read_bytes()
    fetched: list[int] = []
    real_fetch = s3fs.core.S3File._fetch_range
    monkeypatch.setattr(
        s3fs.core.S3File,
        "_fetch_range",
        lambda self, start, end: fetched.append(end - start) or real_fetch(self, start, end),
    )
    stored.write_bytes(original + bytes(12 * CHUNK_BYTES))  # a 12 MiB object whose video is at the start
    try:
        jpeg = first_keyframe_jpeg(stored)
    finally:
        stored.write_bytes(original)

    assert jpeg[:3] == b"\xff\xd8\xff"
    assert max(fetched) <= 2 * CHUNK_BYTES  # s3fs alone would read 50 MiB blocks
    assert sum(fetched) < 6 * CHUNK_BYTES


def test_a_file_without_video_has_no_poster(tmp_path: Any) -> None:
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_evolink.plugins.posters import PosterUnavailable, first_keyframe_jpeg

    (tmp_path / "noise.mp4").write_bytes(b"not a video" * 100)
    with pytest.raises(PosterUnavailable, match="no video frame"):
        first_keyframe_jpeg(ObjectStoragePath(f"file://{tmp_path}/noise.mp4"))


# ------------------------------------------------------------------------------------------ page
def test_page_and_its_static_files_are_served_with_a_strict_content_security_policy(
    api_client: Any, admin: dict[str, str]
) -> None:
    page = api_client.get("/evolink/videos", headers=admin)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "EvoLink videos" in page.text
    assert (
        api_client.get("/evolink/static/gallery.js", headers=admin)
        .headers["content-type"]
        .startswith("text/javascript")
    )
    for name in ("api.py", "..%2Fapi.py", "gallery.html"):
        assert api_client.get(f"/evolink/static/{name}", headers=admin).status_code == 404


def test_the_ui_lists_the_nav_entry_and_the_task_instance_tab(api_client: Any, admin: dict[str, str]) -> None:
    plugins = api_client.get("/api/v2/plugins", headers=admin).json()["plugins"]
    [evolink] = [plugin for plugin in plugins if plugin["name"] == "evolink"]
    views = {view["destination"]: view for view in evolink["external_views"]}
    assert views["nav"]["href"] == "evolink/videos"
    assert "{TASK_ID}" in views["task_instance"]["href"]
    # From Airflow 3.4 the plugins API passes the tab's scope on to the UI (test_plugin.py checks the scope itself).
    scope = {"operator": list(TAB_OPERATORS)} if AIRFLOW_V_3_4_PLUS else None
    assert views["task_instance"].get("applies_to") == scope
    assert evolink["fastapi_apps"][0]["url_prefix"] == "/evolink"


def test_a_file_replaced_by_one_of_the_same_size_gets_its_own_poster(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.sdk import ObjectStoragePath

    from airflow_provider_evolink.plugins import catalog, posters

    monkeypatch.setenv("AIRFLOW__EVOLINK__GALLERY_CACHE_FOLDER", str(tmp_path))
    monkeypatch.setattr(posters, "first_keyframe_jpeg", lambda path: b"\xff\xd8\xff poster")
    path = ObjectStoragePath("file:///v/a.mp4")

    def poster_of(checksum: dict[str, str]) -> Any:
        [stored] = catalog._files({"files": [{"uri": str(path), "bytes": 10, **checksum}]})
        return posters.poster(stored, path)

    first = poster_of({"crc32c": "AAAAAA=="})
    assert poster_of({"crc32c": "AAAAAA=="}) == first  # the same file: the cached poster
    assert poster_of({"crc32c": "4waSgw=="}) != first  # same URI and size, other bytes: a poster of its own
    # An event written before CRC32C became the default carries sha256, which names the bytes as well.
    assert poster_of({"sha256": "ab" * 32}) not in (first, poster_of({"crc32c": "4waSgw=="}))
