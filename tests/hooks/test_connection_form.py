"""The EvoLink connection form as the Airflow UI gets it, on every supported Airflow (3.1 asks the hook)."""

from __future__ import annotations


def _evolink_form() -> dict:
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService

    (form,) = [hook for hook in HookMetaService.hook_meta_data() if hook.connection_type == "evolink"]
    return form.model_dump()


def test_the_connection_form_shows_the_api_key_and_base_url_and_hides_the_unused_fields() -> None:
    fields = _evolink_form()["standard_fields"]

    assert (fields["password"]["title"], fields["host"]["title"]) == ("API Key", "Base URL")
    assert fields["host"]["placeholder"] == "https://api.evolink.ai"
    assert all(fields[name]["hidden"] for name in ("url_schema", "port", "login"))


def test_the_connection_form_offers_every_extra_with_its_label_and_description() -> None:
    extras = _evolink_form()["extra_fields"]

    assert set(extras) == {"timeout", "max_retries", "outage_tolerance", "files_base_url", "batch_reads"}
    assert extras["timeout"]["schema"]["title"] == "Timeout (seconds)"
    assert "integer" in extras["max_retries"]["schema"]["type"]
    assert "default 3" in extras["max_retries"]["description"]
