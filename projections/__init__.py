"""The projections: what the lifecycle events become, and everything read from it.

Rooms, each importing only from the ones below it:

- ``model/``: pure values and the fold — a credential's state (the one definition of its
  fields), anomalies, addresses against networks, positioned events, ``fold``/``fold_batch``;
- ``db/``: the storage schema — tables, row conversions, migrations, engines, the reader of
  recorded histories, and ``backends/``, the one place SQLite and PostgreSQL differ;
- ``chain/``: the audit log's hash chain — hashing, chain heads, walking and verifying;
- ``write/``: the write path — ``ProjectionStore.apply`` records a batch, folds it and stores
  consumer positions in one transaction;
- ``forensics/``: state as of an instant, role history, comparing two projections;
- ``queries/``: the security team's questions, for the command line and the HTTP API.

Nothing here knows about Kafka beyond the (topic, partition, offset) of an event.
"""
