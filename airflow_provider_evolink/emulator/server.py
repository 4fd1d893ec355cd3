"""``EvoLinkEmulator``: the emulator app served by uvicorn on a background thread."""

from __future__ import annotations

import random
import socket
import threading
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from .app import create_app, result_content
from .faults import Faults, FaultSchedule
from .files import DEFAULT_FILE_QUOTA, DEFAULT_FILE_TTL_SECONDS, FileStore, create_files_app
from .middleware import EmulatorMiddleware
from .price_list import PriceBook, PriceChanges
from .store import TaskStore

_STARTUP_TIMEOUT_SECONDS = 10.0
_WILDCARD_HOSTS = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}


class EvoLinkEmulator:
    """A local EvoLink-compatible server (like moto for AWS), for demos, tests and users' CI.

    ``with EvoLinkEmulator(...) as emu:`` serves on ``emu.base_url`` until the block ends; point an
    ``evolink`` connection's host at ``emu.base_url`` and its password at ``emu.api_key``. What it serves
    and why is described in ``app.py``; its behaviour follows
    ``airflow_provider_evolink/api_reference/openapi/*.openapi.yaml`` and
    ``airflow_provider_evolink/api_reference/evolink-api.md``.

    :param host: interface to listen on (loopback by default).
    :param port: TCP port; 0 picks a free one (read it back from ``port`` / ``base_url``).
    :param api_key: the accepted Bearer key, or a sequence of them (``api_key`` is then the first).
    :param processing_seconds: creation to completion of every task, in seconds; 0 completes at once.
    :param credits: starting credit balance; a create costing more is refused with 402.
    :param result_ttl_seconds: validity of result links after completion, in seconds (403 afterwards).
    :param accept_any_model: accept any string ``model`` (flat 8.1 credits/s) instead of 403.
    :param result_size_bytes: serve results as a streamed pseudo-random blob of this many bytes (benchmarks)
        instead of an MP4.
    :param reference_video_seconds: length of motion control output (and what it bills), in seconds (3–30).
    :param rate_429: fraction of API requests answered 429 with ``Retry-After: retry_after_seconds``.
    :param retry_after_seconds: ``Retry-After`` of those 429s, in seconds.
    :param rate_500: fraction of API requests answered 500.
    :param rate_503: fraction of API requests answered 503.
    :param rate_drop: fraction of API requests whose connection is closed without a response.
    :param rate_slow: fraction of API requests answered after ``slow_seconds``.
    :param slow_seconds: delay of a slow answer, in seconds.
    :param rate_cutoff: fraction of result downloads cut off halfway after a full ``Content-Length``.
    :param seed: seed of the fault draws and render times, for reproducible chaos.
    :param processing_spread: each task renders for ``processing_seconds`` × e^N(0, spread), a log-normal
        spread like real render times (0.25: most within ±30 %); 0 (default): exactly ``processing_seconds``.
    :param estimate_factor: ``task_info.estimated_time`` of a new task = ``processing_seconds`` × this, in
        whole seconds: 1 (default) is accurate, 10/3 makes tasks finish at 30 % of their estimate, 1/3 at 300 %.
    :param progress_mode: how ``progress`` moves while processing: ``"linear"`` (default, the share of the
        render time), ``"stuck"`` (0 until done) or ``"jumps"`` (in quarters: 0, 25, 50, 75).
    :param fetch_inputs: fetch every media input of a create request when its task starts and fail the task with
        the documented error code when one is unreachable (403/404/refused) or unusable for its field (probed with
        PyAV); see ``fetch.py``. On by default, like EvoLink.
    :param files_port: TCP port of the files API (its own host, like ``files-api.evolink.ai``); 0 picks a free
        one (read it back from ``files_base_url``).
    :param file_quota: files one API key may hold at once; an upload past it answers ``success: false``.
    :param file_ttl_seconds: how long an uploaded file is served, in seconds (72 h like EvoLink).
    :param prices: changes to the catalogue's per-second prices, ``{model: {quality: credits per second}}`` (or one
        number for every quality): the price list serves them and tasks reserve at them (:meth:`set_prices`).
    :param small_videos: render result videos at a quarter of EvoLink's size on each side (320×180 instead of
        1280×720 for 720p 16:9), for tests that do not look at the resolution; off by default.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | Sequence[str] = "sk-emulator",
        processing_seconds: float = 2.0,
        credits: float = 1_000_000.0,
        result_ttl_seconds: float = 86400,
        accept_any_model: bool = False,
        result_size_bytes: int | None = None,
        reference_video_seconds: int = 5,
        rate_429: float = 0.0,
        retry_after_seconds: int = 1,
        rate_500: float = 0.0,
        rate_503: float = 0.0,
        rate_drop: float = 0.0,
        rate_slow: float = 0.0,
        slow_seconds: float = 2.0,
        rate_cutoff: float = 0.0,
        seed: int | None = None,
        processing_spread: float = 0.0,
        estimate_factor: float = 1.0,
        progress_mode: str = "linear",
        fetch_inputs: bool = True,
        files_port: int = 0,
        file_quota: int = DEFAULT_FILE_QUOTA,
        file_ttl_seconds: float = DEFAULT_FILE_TTL_SECONDS,
        prices: PriceChanges | None = None,
        small_videos: bool = False,
    ) -> None:
        api_keys = (api_key,) if isinstance(api_key, str) else tuple(api_key)
        if not api_keys or not all(isinstance(key, str) and key for key in api_keys):
            raise ValueError("api_key must be a non-empty string or a sequence of them")
        if processing_seconds < 0 or result_ttl_seconds < 0 or credits < 0:
            raise ValueError("processing_seconds, result_ttl_seconds and credits must not be negative")
        if not 3 <= reference_video_seconds <= 30:
            raise ValueError(
                f"reference_video_seconds must be 3-30 (motion control's limits), got {reference_video_seconds}"
            )
        if result_size_bytes is not None and result_size_bytes < 0:
            raise ValueError(f"result_size_bytes must not be negative, got {result_size_bytes}")
        if file_quota < 0 or file_ttl_seconds < 0:
            raise ValueError("file_quota and file_ttl_seconds must not be negative")
        self.host = host
        self.port = port
        self.files_port = files_port
        self.api_key = api_keys[0]
        self.api_keys = api_keys
        self._result_size_bytes = result_size_bytes
        self._small_videos = small_videos
        self._faults = FaultSchedule(
            Faults(
                rate_429=rate_429,
                retry_after_seconds=retry_after_seconds,
                rate_500=rate_500,
                rate_503=rate_503,
                rate_drop=rate_drop,
                rate_slow=rate_slow,
                slow_seconds=slow_seconds,
                rate_cutoff=rate_cutoff,
            )
        )
        self._log: list[dict[str, Any]] = []
        self._store = TaskStore(
            processing_seconds=processing_seconds,
            credits=credits,
            result_ttl_seconds=result_ttl_seconds,
            reference_video_seconds=reference_video_seconds,
            processing_spread=processing_spread,
            estimate_factor=estimate_factor,
            progress_mode=progress_mode,
            seed=seed,
            prices=PriceBook(prices),
        )
        app = create_app(
            self._store,
            api_keys=frozenset(api_keys),
            accept_any_model=accept_any_model,
            result_size_bytes=result_size_bytes,
            faults=self._faults,
            log=self._log,
            fetch_inputs=fetch_inputs,
            small_videos=small_videos,
        )
        self._files = FileStore(quota=file_quota, ttl_seconds=file_ttl_seconds)
        self._router = _ByPort(app, create_files_app(self._files, api_keys=frozenset(api_keys)))
        self._app = EmulatorMiddleware(self._router, self._faults, self._log, random.Random(seed))
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------------------------------- lifecycle
    def start(self) -> Self:
        """Bind the port and serve on a daemon thread; returns once requests are answered.

        :raises OSError: the port cannot be bound.
        :raises RuntimeError: already started, or the server did not come up within 10 s.
        """
        if self._server is not None:
            raise RuntimeError("the emulator is already running")
        # Binding here, not in uvicorn, makes port 0 usable: the real ports are known before serving starts.
        sock = _bind(self.host, self.port)
        try:
            files_sock = _bind(self.host, self.files_port)
        except OSError:
            sock.close()
            raise
        self.port, self.files_port = sock.getsockname()[1], files_sock.getsockname()[1]
        self._router.files_port = self._app.files_port = self.files_port
        config = uvicorn.Config(
            self._app,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        self._app.connections = server.server_state.connections
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock, files_sock]}, name=f"evolink-emulator-{self.port}", daemon=True
        )
        thread.start()
        deadline = time.monotonic() + _STARTUP_TIMEOUT_SECONDS
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                sock.close()
                files_sock.close()
                raise RuntimeError("the EvoLink emulator did not start")
            time.sleep(0.005)
        self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        """Stop serving (open downloads get a second to finish). Does nothing if not running."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(timeout=5)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout=5)
        self._server = self._thread = None
        self._files.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://host:port`` without a trailing slash (a wildcard host is reached through loopback)."""
        if self._server is None:
            raise RuntimeError("the emulator is not running: start() it or use it as a context manager")
        host = _WILDCARD_HOSTS.get(self.host, self.host)
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    @property
    def files_base_url(self) -> str:
        """The files API host, ``http://host:files_port``: the connection extra ``files_base_url``."""
        return self.base_url.rpartition(":")[0] + f":{self.files_port}"

    # ------------------------------------------------------------------------------------------ helpers
    def requests(self) -> list[dict[str, Any]]:
        """A copy of the request log, oldest first (the keys are listed on :class:`EmulatorMiddleware`)."""
        return [dict(entry) for entry in list(self._log)]

    def clear_requests(self) -> None:
        """Empty the request log."""
        self._log.clear()

    @property
    def faults(self) -> Faults:
        """The fault settings in force now."""
        return self._faults.current()

    def set_faults(self, *, duration_seconds: float | None = None, **changes: float) -> Faults:
        """Change fault settings while running, e.g. ``set_faults(rate_429=1.0, duration_seconds=30)``.

        :param duration_seconds: how long the change lasts before the previous settings return; ``None``
            makes it permanent.
        :param changes: constructor fault arguments (``rate_429``, ``retry_after_seconds``, ``rate_500``,
            ``rate_503``, ``rate_drop``, ``rate_slow``, ``slow_seconds``, ``rate_cutoff``).
        :returns: the settings now in force.
        :raises TypeError: an unknown name. :raises ValueError: a rate outside 0–1 or a negative value.
        """
        return self._faults.change(changes, duration_seconds)

    def set_prices(self, prices: PriceChanges) -> None:
        """Change per-second prices while running, e.g. ``set_prices({"kling-o3-text-to-video": {"720p": 9.0}})``:
        the price list (``GET /web/api/models/pricing``) and the credits new tasks reserve follow at once. A
        client caches the list (:data:`~airflow_provider_evolink.hooks.price_list.PRICE_LIST_TTL`).

        :param prices: ``{model: {quality: credits per second}}``, or ``{model: credits per second}`` for every
            quality it has a price for; sound and reference-video rates at that quality scale alike.
        :raises ValueError: an unknown model or quality, or a price that is not > 0.
        """
        self._store.prices.set_prices(prices)

    def result_sha256(self, url_or_task_id: str) -> str:
        """Hex SHA-256 of what a result link serves (whole), from the link or the task ID.

        :raises KeyError: no such task.
        """
        task_id = urlsplit(url_or_task_id).path.split("/")[2] if "://" in url_or_task_id else url_or_task_id
        task = self._store.get(task_id)
        if task is None:
            raise KeyError(task_id)
        return result_content(task, self._result_size_bytes, self._small_videos).sha256()

    def done_at(self, task_id: str) -> float:
        """When a task completes (or fails), epoch seconds: what a wait's detection delay counts from.

        :raises KeyError: no such task.
        """
        task = self._store.get(task_id)
        if task is None:
            raise KeyError(task_id)
        return task.done_at


def _bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


class _ByPort:
    """The files app for requests that arrived on the files port, the API app for all others."""

    def __init__(self, api: ASGIApp, files: ASGIApp) -> None:
        self.api = api
        self.files = files
        self.files_port: int | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        server = scope.get("server") or (None, None)
        await (self.files if server[1] == self.files_port else self.api)(scope, receive, send)
