"""The reserved credits kept beside the stored submission: written with the task ID, forgotten with it."""

from __future__ import annotations

from fakes import FakeTaskStateStore

from airflow_provider_evolink.submission_state import SubmissionState, stored_usage


def test_the_usage_is_stored_with_the_task_id_and_forgotten_with_it() -> None:
    store = FakeTaskStateStore()
    state = SubmissionState(store, "sha-of-the-request", 1)
    state.idempotency_key()
    state.submitted("task-unified-1", {"billing_rule": "per_second", "credits_reserved": 40.5})

    assert stored_usage(store) == {"billing_rule": "per_second", "credits_reserved": 40.5}

    state.forget_task()

    assert stored_usage(store) is None


def test_a_new_idempotency_key_drops_the_usage_of_the_task_it_replaces() -> None:
    store = FakeTaskStateStore()
    SubmissionState(store, "first request", 1).submitted("task-unified-1", {"credits_reserved": 40.5})

    SubmissionState(store, "changed request", 1).idempotency_key()

    assert stored_usage(store) is None


def test_without_a_store_nothing_is_stored_or_read() -> None:
    SubmissionState(None, "sha", None).submitted("task-unified-1", {"credits_reserved": 40.5})

    assert stored_usage(None) is None


def test_a_new_try_sequence_forgets_the_usage_too() -> None:
    store = FakeTaskStateStore()
    first = SubmissionState(store, "sha-1", 1)
    first.idempotency_key()
    first.submitted("task-unified-1", {"credits_reserved": 40.5})

    SubmissionState(store, "sha-1", 4)  # a manual Clear started a new try sequence

    assert stored_usage(store) is None
