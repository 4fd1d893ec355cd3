"""``python -m airflow_provider_evolink.emulator``: run the EvoLink emulator until SIGINT or SIGTERM.

Every :class:`~airflow_provider_evolink.emulator.EvoLinkEmulator` argument is a ``--kebab-case`` flag
(``--api-key`` may repeat; ``--no-fetch-inputs`` turns input fetching off). The first line printed is
``EvoLink emulator listening on <base URL>``, the second ``EvoLink emulator files API on <files base URL>``.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from collections.abc import Sequence
from types import FrameType

from .server import EvoLinkEmulator
from .store import PROGRESS_MODES


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_evolink.emulator", description="A local EvoLink-compatible API server."
    )
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="interface to listen on (default: %(default)s)")
    add("--port", type=int, default=0, help="TCP port; 0 picks a free one (default: %(default)s)")
    add("--api-key", action="append", help="accepted Bearer key; repeat for several (default: sk-emulator)")
    add("--processing-seconds", type=float, default=2.0, help="task creation to completion (default: %(default)s)")
    add("--credits", type=float, default=1_000_000.0, help="starting credit balance (default: %(default)s)")
    add("--result-ttl-seconds", type=float, default=86400, help="result link validity (default: %(default)s)")
    add("--accept-any-model", action="store_true", help="accept unknown model ids instead of 403")
    add("--result-size-bytes", type=int, help="serve results as a streamed blob of this size instead of an MP4")
    add("--reference-video-seconds", type=int, default=5, help="motion control output length (default: %(default)s)")
    add("--rate-429", type=float, default=0.0, help="fraction of API requests answered 429")
    add("--retry-after-seconds", type=int, default=1, help="Retry-After of those 429s (default: %(default)s)")
    add("--rate-500", type=float, default=0.0, help="fraction of API requests answered 500")
    add("--rate-503", type=float, default=0.0, help="fraction of API requests answered 503")
    add("--rate-drop", type=float, default=0.0, help="fraction of API requests whose connection is dropped")
    add("--rate-slow", type=float, default=0.0, help="fraction of API requests answered after --slow-seconds")
    add("--slow-seconds", type=float, default=2.0, help="delay of a slow answer (default: %(default)s)")
    add("--rate-cutoff", type=float, default=0.0, help="fraction of result downloads cut off halfway")
    add("--seed", type=int, help="seed of the fault draws and render times")
    add("--processing-spread", type=float, default=0.0, help="log-normal spread of render times (default: 0)")
    add("--estimate-factor", type=float, default=1.0, help="estimated_time / processing-seconds (default: 1)")
    add("--progress-mode", choices=PROGRESS_MODES, default="linear", help="how progress moves (default: linear)")
    add(
        "--fetch-inputs",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="fetch and probe every media input when a task starts (default: on; --no-fetch-inputs turns it off)",
    )
    add("--files-port", type=int, default=0, help="TCP port of the files API; 0 picks a free one (default: 0)")
    add("--file-quota", type=int, default=100, help="files one API key may hold at once (default: %(default)s)")
    add("--file-ttl-seconds", type=float, default=72 * 3600, help="uploaded file lifetime (default: %(default)s)")
    add(
        "--prices",
        type=json.loads,
        help='per-second price changes as JSON, e.g. \'{"kling-o3-text-to-video": {"720p": 9}}\' (default: the '
        "catalogue's)",
    )
    add("--small-videos", action="store_true", help="render results at a quarter of EvoLink's size on each side")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Parse flags, serve, and print the base URL; return after SIGINT or SIGTERM."""
    settings = vars(_parser().parse_args(argv))
    settings["api_key"] = settings["api_key"] or "sk-emulator"
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    with EvoLinkEmulator(**settings) as emulator:
        print(f"EvoLink emulator listening on {emulator.base_url}", flush=True)
        print(f"EvoLink emulator files API on {emulator.files_base_url}", flush=True)
        while not stop.wait(0.5):
            pass


if __name__ == "__main__":
    main()
