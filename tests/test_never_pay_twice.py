"""The usage stored with a submission lives and dies with the EvoLink task it belongs to."""

from __future__ import annotations

from fakes import FakeTaskStateStore

from airflow_provider_evolink.never_pay_twice import SubmissionState, stored_usage

USAGE = {"billing_rule": "per_second", "credits_reserved": 40.5, "user_group": "default"}


def test_the_usage_is_stored_with_the_task_and_forgotten_with_it() -> None:
    store = FakeTaskStateStore()
    state = SubmissionState(store, "sha-1", 1)
    state.new_key()
    state.submitted("task-unified-1", USAGE)
    assert stored_usage(store) == USAGE

    state.forget_task()  # the task failed: the resubmission must not report the old reservation
    assert stored_usage(store) is None
    state.new_key()
    state.submitted("task-unified-2")
    assert stored_usage(store) is None


def test_a_new_try_sequence_forgets_the_usage_too() -> None:
    store = FakeTaskStateStore()
    first = SubmissionState(store, "sha-1", 1)
    first.new_key()
    first.submitted("task-unified-1", USAGE)

    SubmissionState(store, "sha-1", 4)  # a manual Clear started a new try sequence

    assert stored_usage(store) is None


def test_a_new_idempotency_key_drops_the_usage_of_the_task_it_replaces() -> None:
    store = FakeTaskStateStore()
    SubmissionState(store, "first request", 1).submitted("task-unified-1", {"credits_reserved": 40.5})

    SubmissionState(store, "changed request", 1).new_key()

    assert stored_usage(store) is None


def test_without_a_store_nothing_is_stored_or_read() -> None:
    SubmissionState(None, "sha", None).submitted("task-unified-1", {"credits_reserved": 40.5})

    assert stored_usage(None) is None


def test_a_key_stored_without_a_task_id_is_replayed_with_its_sealed_request() -> None:
    store = FakeTaskStateStore()
    key = SubmissionState(store, "sha", 1).new_key("sealed-token")

    assert SubmissionState(store, "sha", 1).replayable() == (key, "sealed-token")


def test_a_key_without_resolved_inputs_is_replayed_with_the_request_itself() -> None:
    store = FakeTaskStateStore()
    key = SubmissionState(store, "sha", 1).new_key()

    assert SubmissionState(store, "sha", 1).replayable() == (key, None)


def test_nothing_is_replayed_once_the_task_id_is_stored_or_the_request_changed() -> None:
    store = FakeTaskStateStore()
    state = SubmissionState(store, "sha", 1)
    state.new_key("sealed-token")
    assert SubmissionState(store, "other sha", 1).replayable() is None
    state.submitted("task-unified-1")
    assert SubmissionState(store, "sha", 1).replayable() is None
