"""Fault settings: what fraction of requests fail how, and time-boxed changes (a 429 storm for 30 s).

Rates are fractions 0–1 drawn independently per request. API routes (``/v1/...``) draw one of 429, 500, 503,
drop or slow (their rates add up; past 1 they are cut off in that order); result downloads draw ``cutoff``.
The responses mirror the error examples of ``airflow_provider_evolink/api_reference/openapi/*.openapi.yaml``.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Faults:
    """Fault rates and their parameters.

    :param rate_429: fraction of API requests answered 429 ``rate_limit_exceeded`` with ``Retry-After``.
    :param retry_after_seconds: the ``Retry-After`` value of those 429s, in seconds.
    :param rate_500: fraction answered 500 ``internal_error``.
    :param rate_503: fraction answered 503 ``service_unavailable``.
    :param rate_drop: fraction whose connection is closed without any response.
    :param rate_slow: fraction answered normally after ``slow_seconds``.
    :param slow_seconds: delay of a slow response, in seconds.
    :param rate_cutoff: fraction of result downloads whose body stops halfway (full ``Content-Length`` sent).
    :param rate_batch_404: fraction of ``POST /v1/tasks/batch`` answered 404 as by a server without that route
        (1: it has none; ``task_reads.py``).
    """

    rate_429: float = 0.0
    retry_after_seconds: int = 1
    rate_500: float = 0.0
    rate_503: float = 0.0
    rate_drop: float = 0.0
    rate_slow: float = 0.0
    slow_seconds: float = 2.0
    rate_cutoff: float = 0.0
    rate_batch_404: float = 0.0

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"{field.name} must be a number, got {value!r}")
            if field.name.startswith("rate_") and not 0.0 <= value <= 1.0:
                raise ValueError(f"{field.name} must be a fraction between 0 and 1, got {value}")
            if value < 0:
                raise ValueError(f"{field.name} must not be negative, got {value}")

    def api_fault(self, draw: float) -> str | None:
        """The API fault a uniform ``draw`` in [0, 1) selects: ``"429"``, ``"500"``, ``"503"``, ``"drop"``,
        ``"slow"`` or ``None``."""
        for name, rate in (
            ("429", self.rate_429),
            ("500", self.rate_500),
            ("503", self.rate_503),
            ("drop", self.rate_drop),
            ("slow", self.rate_slow),
        ):
            if draw < rate:
                return name
            draw -= rate
        return None


class FaultSchedule:
    """The faults in force: a base setting, optionally overridden until a deadline (then it reverts)."""

    def __init__(self, base: Faults) -> None:
        self._base = base
        self._window: tuple[Faults, float] | None = None  # (faults, time.monotonic() deadline)

    def current(self) -> Faults:
        """The faults in force now."""
        window = self._window
        if window is not None and time.monotonic() < window[1]:
            return window[0]
        return self._base

    def change(self, changes: dict[str, Any], duration_seconds: float | None = None) -> Faults:
        """Apply ``changes`` (field names of :class:`Faults`) to the faults in force.

        With ``duration_seconds`` the change lasts that long, then the base setting returns; without, it
        becomes the base setting.

        :raises TypeError: an unknown field name or a non-number.
        :raises ValueError: a rate outside 0–1, a negative value or duration.
        """
        faults = dataclasses.replace(self.current(), **changes)
        if duration_seconds is None:
            self._base, self._window = faults, None
        elif duration_seconds < 0:
            raise ValueError(f"duration_seconds must not be negative, got {duration_seconds}")
        else:
            self._window = (faults, time.monotonic() + duration_seconds)
        return faults
