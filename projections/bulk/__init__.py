"""Bulk replay: rebuilding the projections into a fresh database at bulk-load speed.

A fresh store is a bulk load: every event is new, every state starts empty and nothing
reads the target until the end. :class:`~projections.bulk.store.BulkStore` applies batches
with the live store's pure steps (the same fold, the same chained rows) but answers the
per-batch lookups from memory (:mod:`projections.bulk.ledger`), drops the secondary
indexes for the load and builds them last, and writes the credential states, chain heads
and consumer positions once, at the end. A marker row (``bulk_loads``) says a load began and
did not finish; such a store is never resumed.
"""
