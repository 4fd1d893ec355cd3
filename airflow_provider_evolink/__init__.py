"""Apache Airflow provider for EvoLink's AI video generation API (https://api.evolink.ai)."""

__version__ = "1.0.0"
