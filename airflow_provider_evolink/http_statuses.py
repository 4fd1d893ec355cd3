"""
Which HTTP statuses are worth another attempt, and why: the one place every retry rule of the provider reads them
(API errors in ``exceptions.py``, the async pause in ``hooks/evolink.py``, uploads in ``hooks/files.py``, result
downloads in ``transfers/result_host.py``). Source: ``airflow_provider_evolink/api_reference/evolink-api.md``
("Errors and retries", "Results", "Files API (inputs)").

A leaf module: it imports nothing, so the error tree can read it.
"""

__all__ = [
    "EXPIRED_LINK_STATUSES",
    "PAUSE_STATUSES",
    "RESENDABLE_UPLOAD_STATUSES",
    "RETRYABLE_API_STATUSES",
    "RETRYABLE_RESULT_HOST_STATUSES",
]

#: API answers worth sending again: 429 (rate limited; wait for ``Retry-After``) and 500/502/503/504 (the server or
#: a gateway failed; EvoLink documents them as transient). Every other status fails the same way when re-sent.
RETRYABLE_API_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Statuses whose ``Retry-After`` speaks for the account or host, so it pauses every hook sharing an async client.
PAUSE_STATUSES = frozenset({429, 503})
#: Files API answers after which an upload is re-sent: only 429, refused before the body was read. An upload is
#: not idempotent (each stored file uses quota), and after a 5xx the file may have been stored.
RESENDABLE_UPLOAD_STATUSES = frozenset({429})
#: Result-host (CDN) answers worth another GET: the API's, plus 408 (the CDN timed out waiting for the request; a
#: GET of a result is safe to repeat).
RETRYABLE_RESULT_HOST_STATUSES = RETRYABLE_API_STATUSES | {408}
#: Result-host answers meaning the signed link no longer works (it lives 24 h): 403 (signature expired), 404 and
#: 410 (withdrawn). No retry helps; generating the video again gives fresh links.
EXPIRED_LINK_STATUSES = frozenset({403, 404, 410})
