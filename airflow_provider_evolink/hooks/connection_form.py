"""
The EvoLink connection form for Airflow 3.1, made from the same declaration Airflow 3.2+ reads.

Airflow 3.2+ builds the form from ``get_provider_info()``'s ``conn-fields`` and ``ui-field-behaviour`` and never
calls the hook. Airflow 3.1 only calls ``EvoLinkHook.get_ui_field_behaviour`` and
``get_connection_form_widgets``; these translate that one declaration into the shapes 3.1 expects (snake_case
behaviour keys, WTForms fields that its API server turns back into a JSON schema), so nothing is declared twice.
Not needed from Airflow 3.2.
"""

from __future__ import annotations

from typing import Any

__all__ = ["connection_form_widgets", "ui_field_behaviour"]


def _connection_type() -> dict[str, Any]:
    from airflow_provider_evolink.get_provider_info import get_provider_info

    (connection_type,) = get_provider_info()["connection-types"]
    return dict(connection_type)


def ui_field_behaviour() -> dict[str, Any]:
    """``ui-field-behaviour`` with Airflow 3.1's keys: ``hidden_fields``, ``relabeling``, ``placeholders``."""
    behaviour = _connection_type()["ui-field-behaviour"]
    return {key.replace("-", "_"): value for key, value in behaviour.items()}


def connection_form_widgets() -> dict[str, Any]:
    """One optional WTForms field per ``conn-fields`` entry (integer or text; the hook checks every value).

    WTForms, Flask-Babel and Flask-AppBuilder need not be installed: Airflow 3.1's API server stands in for them
    while it reads the form.
    """
    from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
    from flask_babel import lazy_gettext
    from wtforms import IntegerField, StringField
    from wtforms.validators import Optional

    widgets = {}
    for name, field in _connection_type()["conn-fields"].items():
        kind = IntegerField if "integer" in field["schema"]["type"] else StringField
        widgets[name] = kind(
            lazy_gettext(field["label"]),
            widget=BS3TextFieldWidget(),
            validators=[Optional()],
            description=field["description"],
        )
    return widgets
