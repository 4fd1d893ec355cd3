"""
Every default of the provider in one place, read by the connection settings, the retry policy, the operators, the
connection form (``get_provider_info``) and the docs, so that no default is repeated as text.

A leaf module without imports: ``get_provider_info`` reads it when Airflow lists its providers.
Source of the EvoLink hosts and the polling pace: ``airflow_provider_evolink/api_reference/evolink-api.md``.
"""

__all__ = [
    "BATCH_READS_MODES",
    "DEFAULT_BASE_URL",
    "DEFAULT_BATCH_READS",
    "DEFAULT_FILES_BASE_URL",
    "DEFAULT_INPUT_LINK_EXPIRATION",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_OUTAGE_TOLERANCE",
    "DEFAULT_POLL_INTERVAL",
    "DEFAULT_TIMEOUT",
    "DEFAULT_WAIT_TIMEOUT",
    "MAX_INPUT_LINK_EXPIRATION",
    "MAX_RETRY_WAIT",
    "RETRY_INITIAL_WAIT",
]

#: EvoLink's API (connection ``host``).
DEFAULT_BASE_URL = "https://api.evolink.ai"
#: EvoLink's files API host (connection extra ``files_base_url``), where uploads go.
DEFAULT_FILES_BASE_URL = "https://files-api.evolink.ai"
#: Seconds allowed for one HTTP read/write (connection extra ``timeout``).
DEFAULT_TIMEOUT = 30.0
#: Retries after the first attempt for retryable failures (connection extra ``max_retries``).
DEFAULT_MAX_RETRIES = 3
#: Seconds transient failures may last in a row while waiting for a task or saving its results (connection extra
#: ``outage_tolerance``): longer than the 10-minute API outages the provider is built to outlast.
DEFAULT_OUTAGE_TOLERANCE = 900.0
#: First backoff step (seconds).
RETRY_INITIAL_WAIT = 0.5
#: Longest wait honoured from a ``Retry-After`` header, and the cap of the exponential backoff (seconds).
MAX_RETRY_WAIT = 30.0
#: Seconds between status reads near a task's expected end: the pace EvoLink's own client uses ("Polling").
DEFAULT_POLL_INTERVAL = 8.0
#: Seconds the generate operator waits for its EvoLink task (``timeout``; some models take 40 minutes).
DEFAULT_WAIT_TIMEOUT = 3600.0
#: Seconds a signed input link stays valid (``input_link_expiration``): EvoLink fetches inputs only when a queued
#: task starts, and a retry may replay the stored request with the same links; far shorter than an upload's 72 h.
DEFAULT_INPUT_LINK_EXPIRATION = 6 * 3600
#: The longest a SigV4-presigned S3 link may live (7 days); GCS V4 signing has the same cap.
MAX_INPUT_LINK_EXPIRATION = 7 * 24 * 3600
#: Values of the connection extra ``batch_reads``: ``auto`` reads the due tasks of a triggerer together with
#: ``POST /v1/tasks/batch`` and turns that off by itself where the endpoint is missing; ``on`` also sends a lone read
#: that way and warns when it has to turn it off; ``off`` reads every task alone (``GET /v1/tasks/{task_id}``).
BATCH_READS_MODES = ("auto", "on", "off")
#: The default of ``batch_reads``.
DEFAULT_BATCH_READS = "auto"
