"""The read side's storage: projection tables, the pure fold, and the projection store.

- ``fold``: ``fold(state, event) -> Transition`` and ``fold_all(events)``, pure functions
  shared by the live projector, replays and state-as-of-an-instant queries;
- ``store``: ``ProjectionStore.apply`` records a batch of positioned events, folds them and
  stores consumer positions in one transaction;
- ``tables``, ``migrate``, ``database``: the schema, its migrations and engines.

Nothing here knows about Kafka beyond the (topic, partition, offset) of an event.
"""
