"""The "EvoLink videos" Airflow UI plugin: a gallery of the videos ``EvoLinkToStorageOperator`` stored.

``gallery.py`` is the plugin Airflow imports (light: nothing heavy at import time); ``api.py`` the FastAPI app
it mounts on the API server; ``catalog.py`` which Asset events are EvoLink videos and who may see them;
``streaming.py`` HTTP Range reads of a stored object; ``posters.py`` the cached poster frames (PyAV).
"""
