"""
The "Stored video" button on ``EvoLinkToStorageOperator``'s task instances: the stored object in its cloud
console, for ``s3://`` and ``gs://`` destinations.

Airflow 3 computes an operator link in the worker when the task instance ends and stores it as an XCom
(``_link_StoredVideoLink``); the UI shows it as a button on the task instance. Local files (``file://``) and other
stores have no console to open, so they get no link.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow_provider_evolink.compat import TaskInstanceKey

__all__ = ["StoredVideoLink", "console_url"]

_CONSOLES = {
    # {bucket}, {key}: the object; {prefix}: its folder, with a trailing "/".
    "s3": (
        "https://console.aws.amazon.com/s3/object/{bucket}?prefix={key}",
        "https://console.aws.amazon.com/s3/buckets/{bucket}?prefix={prefix}",
    ),
    "gs": (
        "https://console.cloud.google.com/storage/browser/_details/{bucket}/{key}",
        "https://console.cloud.google.com/storage/browser/{bucket}/{prefix}",
    ),
}
_CONSOLES["s3a"] = _CONSOLES["s3"]
_CONSOLES["gcs"] = _CONSOLES["gs"]


def console_url(uris: Any) -> str:
    """The cloud console page of stored objects, or ``""`` when there is none to open.

    :param uris: what ``EvoLinkToStorageOperator`` returned: the stored URIs (``list[str]``), e.g.
        ``["s3://aws_conn@bucket/videos/task-unified-1.mp4"]`` (a connection ID in the URI is left out of the link).
    :return: the object's page for one URI, its folder's page for several (they share one folder); ``""`` for no
        URIs, an unknown value or a store without a console (``file://``, ``memory://``, ...).
    """
    if not isinstance(uris, list) or not uris or not all(isinstance(uri, str) for uri in uris):
        return ""
    parts = urlsplit(uris[0])
    consoles = _CONSOLES.get(parts.scheme.lower())
    bucket = parts.netloc.rpartition("@")[2]  # s3://conn_id@bucket/key
    key = parts.path.lstrip("/")
    if consoles is None or not bucket or not key:
        return ""
    object_page, folder_page = consoles
    if len(uris) == 1:
        return object_page.format(bucket=quote(bucket), key=quote(key))
    prefix = key.rpartition("/")[0]
    return folder_page.format(bucket=quote(bucket), prefix=quote(f"{prefix}/" if prefix else ""))


class StoredVideoLink(BaseOperatorLink):
    """``Stored video``: the object (or, for several results, the folder) ``EvoLinkToStorageOperator`` stored, in
    the AWS S3 or Google Cloud Storage console; read from the task instance's ``return_value`` XCom."""

    name = "Stored video"

    def get_link(self, operator: Any, *, ti_key: TaskInstanceKey) -> str:
        from airflow.sdk.execution_time.xcom import XCom

        return console_url(XCom.get_value(ti_key=ti_key, key="return_value"))
