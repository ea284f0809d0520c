"""Local development services: a single-node Apache Kafka broker and a PostgreSQL server.

Both run as ordinary processes under a state directory (default ``<project root>/.local``),
are reused while they answer, and keep their ports across restarts. Entry points:
``python -m devservices`` and the ``ensure_running``/``stop`` functions of
:mod:`devservices.kafka` and :mod:`devservices.postgres`.
"""
