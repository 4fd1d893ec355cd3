"""A simple auth manager with per-DAG denials, for the gallery's authorization tests.

Airflow 3.3's simple auth manager grants by role only (no per-DAG rights), so this subclass denies the users
named in :attr:`DenyingAuthManager.DENIED` the DAGs listed for them; everything else is the simple auth
manager's own decision. Set ``[core] auth_manager = plugins.auth_manager.DenyingAuthManager`` (``tests/`` on
``sys.path``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager


class DenyingAuthManager(SimpleAuthManager):
    """:class:`SimpleAuthManager` that denies ``DENIED[username]`` DAG IDs to that user, for every method."""

    #: ``viewer`` for the API tests (one DAG of two hidden), ``outsider`` for the browser test (its only DAG).
    DENIED: ClassVar[dict[str, set[str]]] = {
        "viewer": {"evolink_motion_control"},
        "outsider": {"evolink_reference_to_video"},
    }

    def is_authorized_dag(self, *, method: Any, user: Any, access_entity: Any = None, details: Any = None) -> bool:
        if details is not None and details.id in self.DENIED.get(user.get_name(), set()):
            return False
        return super().is_authorized_dag(method=method, user=user, access_entity=access_entity, details=details)
