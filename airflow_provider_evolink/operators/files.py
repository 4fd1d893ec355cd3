"""
EvoLinkUploadFileOperator: upload files through EvoLink's files API once, for many generations to use.

API source: ``POST /api/v1/files/upload/stream`` on the files host
(``airflow_provider_evolink/api_reference/evolink-api.md``, "Files API (inputs)").
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_provider_evolink.airflow_errors import fail_or_retry
from airflow_provider_evolink.exceptions import EvoLinkConfigError
from airflow_provider_evolink.hooks.evolink import EvoLinkHook

if TYPE_CHECKING:
    from airflow.sdk import Context

__all__ = ["EvoLinkUploadFileOperator"]


class EvoLinkUploadFileOperator(BaseOperator):
    """
    Upload one file or several through EvoLink's files API and return their public ``file_url``\\ s.

    Uploads count against a small per-account file quota (100 files on EvoLink's standard plan) and each
    ``file_url`` is public for 72 h: upload a shared input once here and pass the URL to every generation (a
    mapped batch of 50 videos then uses one upload, where 50 requests naming the local file would use 50).

    XCom ``return_value``: the ``file_url`` (``str``) for one source, a ``list[str]`` in the order given for a
    list. This is the one place the provider stores an uploaded link, by request; it is masked in task logs.

    :param source: templated; a local path or ``file://`` URI on the worker, an object-storage URI
        (``s3://[conn_id@]bucket/key``, …) or ``ObjectStoragePath``, or a list of them.
    :param evolink_conn_id: the Airflow connection of type ``evolink`` (templated; its ``files_base_url`` extra
        names the files host).
    :param file_name: the stored file name (one source only; the service picks a unique one if ``None``).
    :param upload_path: the folder to store in (the service picks one by type if ``None``).
    :raises AirflowFailException: a missing source, a refused upload (quota used up, type refused: ``code`` and
        ``msg`` in the message) or another non-retryable answer. Transient errors propagate for Airflow's retries
        (an upload whose answer was lost is not re-sent by the hook, since it may have used quota).
    """

    template_fields: Sequence[str] = ("source", "evolink_conn_id")
    ui_color = "#e8e0f8"

    def __init__(
        self,
        *,
        source: Any,
        evolink_conn_id: str = EvoLinkHook.default_conn_name,
        file_name: str | None = None,
        upload_path: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.evolink_conn_id = evolink_conn_id
        self.file_name = file_name
        self.upload_path = upload_path

    def _upload(self, sources: list[Any]) -> list[str]:
        if not sources:
            raise EvoLinkConfigError("source is empty: name a file, an object-storage URI or a list of them")
        if self.file_name is not None and len(sources) > 1:
            raise EvoLinkConfigError(f"file_name names one file, but source lists {len(sources)}")
        return [
            self.hook.upload_file(item, file_name=self.file_name, upload_path=self.upload_path).file_url
            for item in sources
        ]

    @cached_property
    def hook(self) -> EvoLinkHook:
        """The sync hook of ``evolink_conn_id``."""
        return EvoLinkHook(evolink_conn_id=self.evolink_conn_id)

    def execute(self, context: Context) -> str | list[str]:
        sources = list(self.source) if isinstance(self.source, list | tuple) else [self.source]
        # A missing source or a refused upload fails the same on every retry; transient errors keep Airflow's retries.
        try:
            with fail_or_retry():
                urls = self._upload(sources)
        finally:
            self.hook.close()
        return urls if isinstance(self.source, list | tuple) else urls[0]
