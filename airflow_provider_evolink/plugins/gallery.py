"""
The Airflow plugin: a FastAPI app on the API server and two UI entries (a nav page and a task-instance tab).

Importing this module costs almost nothing: every Airflow component that loads plugins (scheduler, workers,
dag processor) imports it, but only the API server serves the app, so FastAPI, the database models and PyAV
are imported when the first request arrives, not before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_evolink.compat import AIRFLOW_V_3_4_PLUS, AirflowPlugin

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, MutableMapping

    _Scope = MutableMapping[str, Any]
    _Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
    _Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

__all__ = ["TAB_OPERATORS", "URL_PREFIX", "EvoLinkGalleryPlugin"]

#: Where the app is mounted on the API server (under Airflow's own base path).
URL_PREFIX = "/evolink"
# Relative UI hrefs resolve against the UI's base URL, so the plugin works under a sub-path too.
_PAGE = URL_PREFIX.lstrip("/") + "/videos"
_ICON = URL_PREFIX.lstrip("/") + "/static/icon.svg"
_ICON_DARK = URL_PREFIX.lstrip("/") + "/static/icon-dark.svg"
#: The operators whose task instances the tab has videos for: the transfer (the videos it stored) and the review
#: operators (the video each asks about). Class names as strings: loading the plugin imports none of them (nor the
#: Asset and HITL code they pull in).
TAB_OPERATORS = ("EvoLinkToStorageOperator", "EvoLinkVideoReviewOperator", "EvoLinkVideoReviewBranchOperator")
#: From Airflow 3.4 the task-instance tab shows only where it can list something: on those operators' task
#: instances (the UI compares the instance's ``operator`` with these values; older Airflow shows it on every one).
_TAB_SCOPE = {"applies_to": {"operator": list(TAB_OPERATORS)}} if AIRFLOW_V_3_4_PLUS else {}


class _LazyApp:
    """An ASGI app that builds the real FastAPI app (``api.create_app``) on its first request."""

    def __init__(self) -> None:
        self._app: Any = None

    async def __call__(self, scope: _Scope, receive: _Receive, send: _Send) -> None:
        if self._app is None:
            from airflow_provider_evolink.plugins.api import create_app

            self._app = create_app()
        await self._app(scope, receive, send)


class EvoLinkGalleryPlugin(AirflowPlugin):
    """
    "EvoLink videos" in the Airflow 3.3 UI.

    - ``fastapi_apps``: the gallery page, its JSON list, video streams (HTTP Range) and poster frames, mounted
      at ``/evolink`` on the API server; every endpoint needs an authenticated user and Airflow's authorization
      for the DAG and Asset a video belongs to.
    - ``external_views``: a top-level nav entry (the gallery) and a tab on task instances (the videos that task
      instance stored, or the one a review task asks about): from Airflow 3.4 only on ``EvoLinkToStorageOperator``'s
      and the review operators' task instances, before it on every one (empty for tasks that stored none).
    """

    name = "evolink"
    fastapi_apps = [{"app": _LazyApp(), "url_prefix": URL_PREFIX, "name": "EvoLink videos"}]
    external_views = [
        {
            "name": "EvoLink videos",
            "href": _PAGE,
            "url_route": "evolink-videos",
            "destination": "nav",
            "nav_top_level": True,
            "icon": _ICON,
            "icon_dark_mode": _ICON_DARK,
        },
        {
            "name": "EvoLink videos",
            "href": _PAGE + "?dag_id={DAG_ID}&run_id={RUN_ID}&task_id={TASK_ID}&map_index={MAP_INDEX}",
            "url_route": "evolink-task-videos",
            "destination": "task_instance",
            "icon": _ICON,
            "icon_dark_mode": _ICON_DARK,
            **_TAB_SCOPE,
        },
    ]
