"""The bulk store: applies batches to a fresh database as a load, finishing with the state.

Each :meth:`BulkStore.apply` takes the same steps as
:meth:`projections.write.store.ProjectionStore.apply` — repeated and conflicting event ids
sorted out, the batch folded by :func:`projections.model.batch.fold_batch`, the rows chained
by :func:`projections.write.entries.append_chained` — so the two build the same audit rows,
hashes and Merkle nodes. What differs is where the answers come from and when the state is
written:

- recorded event ids are in an :class:`~projections.bulk.ledger.EventLedger`, credential
  states, chain heads and consumer positions in dicts, so a batch reads nothing from the
  database (except, for a late event, the credential's recorded history and taken
  sequences, by the one index kept for that);
- each batch commits its audit rows and Merkle nodes only (COPY on PostgreSQL), with
  relaxed durability, and the in-memory state moves once it has committed;
- :meth:`BulkStore.finish` writes every state (COPY on PostgreSQL), head and position,
  builds the secondary indexes dropped by :meth:`BulkStore.begin` and deletes the marker
  row ``begin`` wrote.

It writes nothing else: no alerts, no checkpoints (a replay sends and signs nothing).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select

from projections.bulk import indexes
from projections.bulk.ledger import EventLedger, payload_digest
from projections.chain.heads import EMPTY_CHAIN, ChainHead
from projections.chain.nodes import NODE_COLUMNS, NodeWriter
from projections.db.backends import DeferredIndex, backend_of
from projections.db.history import histories
from projections.db.rows import payload_of, state_row
from projections.db.tables import (
    audit_chain_heads,
    audit_log,
    bulk_loads,
    consumer_positions,
    credentials,
    merkle_logs,
    merkle_nodes,
)
from projections.model.batch import fold_batch, late_candidates
from projections.model.credential import CredentialState
from projections.model.positioned import PartitionKey, PositionedEvent
from projections.write import lookups
from projections.write.entries import (
    append_chained,
    check_offsets,
    conflict_reason,
    unique_events,
)
from projections.write.store import ApplyResult, Clock, RefusedEventsError, utc_now
from projections.write.writes import AUDIT_COLUMNS
from schemas.models import LifecycleEvent

log = logging.getLogger(__name__)

KEPT_INDEXES = frozenset({"ix_audit_log_credential_sequence"})
"""Secondary indexes kept during the load: the history of a credential with a late event
is read back by (credential, sequence), as the live store reads it."""

DEFERRED_TABLES = ("audit_log",)
"""Tables whose other secondary indexes are dropped for the load and built at the end."""

LOADED_TABLES = (merkle_nodes, audit_log, merkle_logs, credentials, audit_chain_heads,
                 consumer_positions)
"""Every table a load writes (besides its marker row), Merkle nodes before their logs."""


class BulkLoadError(RuntimeError):
    """The bulk store cannot load into this database (not empty, or a load not begun)."""


class BulkStore:
    """A fresh database loaded in bulk: :meth:`begin`, :meth:`apply` batches, :meth:`finish`.

    Implements the projector's :class:`consumer.hooks.BatchStore`, so the projector loop
    (polling, decoding, dead letters, conflicting ids, content the database refuses, stop
    requests) drives it as it drives the live store.
    """

    def __init__(
        self, engine: Engine, topic: str, *, clock: Clock = utc_now,
        ledger: EventLedger | None = None,
    ) -> None:
        self._engine = engine
        self._topic = topic
        self._clock = clock
        self._backend = backend_of(engine)
        self.ledger = ledger or EventLedger()
        self._connection: Connection | None = None
        self._deferred: list[DeferredIndex] = []
        self._states: dict[str, CredentialState] = {}
        self._heads: dict[PartitionKey, ChainHead] = {}
        self._positions: dict[PartitionKey, int] = {}

    @property
    def connection(self) -> Connection:
        if self._connection is None:
            raise BulkLoadError("the bulk load has not begun")
        if self._connection.invalidated:
            self._connection.close()
            self._connection = self._engine.connect()
            self._backend.relax_durability(self._connection)
        return self._connection

    def begin(self) -> None:
        """:meth:`prepare` the database and :meth:`open` a loading session."""
        self.prepare()
        self.open()

    def open(self) -> None:
        """A loading session (durability relaxed), for a store :meth:`prepare` made ready,
        here or in another process."""
        self._connection = self._engine.connect()
        self._backend.relax_durability(self._connection)

    def prepare(self) -> None:
        """Write the marker row and drop the deferred indexes (:meth:`complete` undoes both).

        The database must be migrated and hold no projections (BulkLoadError otherwise).
        """
        with self._engine.connect() as connection, connection.begin():
            for table in (audit_log, credentials, consumer_positions, bulk_loads):
                if connection.execute(select(table).limit(1)).first() is not None:
                    raise BulkLoadError(f"the target's {table.name} table is not empty")
            connection.execute(insert(bulk_loads), {"topic": self._topic,
                                                    "started_at": self._clock()})
            self._deferred = [
                index
                for table in DEFERRED_TABLES
                for index in self._backend.deferrable_indexes(connection, table)
                if index.name not in KEPT_INDEXES
            ]
            for index in self._deferred:
                connection.exec_driver_sql(index.drop)
        log.info("bulk load of %s began; deferred indexes %s", self._topic,
                 [index.name for index in self._deferred])

    def positions(self, topic: str) -> dict[int, int]:
        """Partition -> next offset to read, as applied so far (held in memory)."""
        return {
            partition: offset
            for (each, partition), offset in self._positions.items()
            if each == topic
        }

    def apply(
        self, batch: Sequence[PositionedEvent], next_offsets: Mapping[tuple[str, int], int]
    ) -> ApplyResult:
        """Record and fold ``batch`` as :meth:`ProjectionStore.apply` does; commit its audit
        rows and Merkle nodes; move the states, heads and positions held in memory."""
        check_offsets(batch, next_offsets)
        candidates, conflicts = unique_events(batch)
        payloads = {event_id: payload_of(p.event) for event_id, p in candidates.items()}
        digests = {
            positioned.event.event_id: payload_digest(payloads[event_id])
            for event_id, positioned in candidates.items()
        }
        recorded = self.ledger.known(digests)
        for event_id in sorted(recorded, key=str):
            if recorded[event_id] != digests[event_id]:
                positioned = candidates[str(event_id)]
                conflicts.append((positioned, conflict_reason(positioned, "earlier")))
        if conflicts:
            raise RefusedEventsError(conflicts)
        fresh = [
            positioned for positioned in candidates.values()
            if positioned.event.event_id not in recorded
        ]
        moved: dict[PartitionKey, ChainHead] = {}
        changed: dict[str, CredentialState] = {}
        counts: Counter[Any] = Counter()
        if fresh:
            projected_at = self._clock()
            with self.connection.begin():
                outcome, moved = self._write(fresh, payloads, projected_at)
            changed = outcome.states
            counts.update(flag for _positioned, flags in outcome.entries for flag in flags)
        self._states.update(changed)
        self._heads.update(moved)
        self.ledger.record(
            (positioned.event.event_id, digests[positioned.event.event_id]) for positioned in fresh
        )
        for key, offset in next_offsets.items():
            self._positions[key] = max(self._positions.get(key, offset), offset)
        return ApplyResult(len(fresh), len(batch) - len(fresh), dict(counts))

    def _write(
        self,
        fresh: Sequence[PositionedEvent],
        payloads: Mapping[str, dict[str, Any]],
        projected_at: Any,
    ) -> tuple[Any, dict[PartitionKey, ChainHead]]:
        connection = self.connection
        states = {
            credential_id: self._states[credential_id]
            for credential_id in {positioned.event.credential_id for positioned in fresh}
            if credential_id in self._states
        }
        late = late_candidates(fresh, {key: state.last_sequence for key, state in states.items()})
        taken = lookups.taken_sequences(connection, late) if late else set()
        refold = {credential_id for credential_id, _sequence in late - taken}
        recorded: dict[str, list[LifecycleEvent]] = {credential_id: [] for credential_id in refold}
        if refold:
            recorded.update(histories(connection, refold))
        outcome = fold_batch(fresh, states, taken, recorded)
        heads = self._heads_of({(item.topic, item.partition) for item in fresh})
        frontiers = {key: head.merkle_frontier() for key, head in heads.items()}
        with self._backend.bulk_appender(connection, audit_log, AUDIT_COLUMNS) as append:
            moved, completed = append_chained(
                outcome.entries, heads, frontiers, projected_at, append, payloads
            )
        with self._backend.bulk_appender(connection, merkle_nodes, NODE_COLUMNS) as sink:
            nodes = NodeWriter(sink)
            for key, emitted in completed.items():
                nodes.write(heads[key].log_id, emitted)
        return outcome, moved

    def _heads_of(self, partitions: set[PartitionKey]) -> dict[PartitionKey, ChainHead]:
        """The heads of ``partitions``; a partition seen for the first time gets its Merkle
        log now (in the batch's transaction, partitions in order, as the live store does)."""
        heads = {key: self._heads[key] for key in partitions if key in self._heads}
        for topic, partition in sorted(partitions - heads.keys()):
            log_id = self.connection.execute(
                insert(merkle_logs).values(topic=topic, partition=partition)
                .returning(merkle_logs.c.log_id)
            ).scalar_one()
            heads[(topic, partition)] = ChainHead(
                EMPTY_CHAIN.last_offset, EMPTY_CHAIN.chain_hash, 0, (), int(log_id)
            )
        return heads

    def finish(self, deferred: Sequence[DeferredIndex] | None = None) -> None:
        """:meth:`write_state`, then :meth:`complete`: the store is then one a live
        projector continues."""
        self.write_state()
        self.complete(deferred)

    def discard_rows(self) -> None:
        """Delete every row a load wrote and drop again the deferred indexes a failed
        :meth:`complete` built (the marker stays), so that another load starts over in the
        prepared store."""
        with self._engine.connect() as connection, connection.begin():
            for table in LOADED_TABLES:
                connection.execute(delete(table))
            for index in indexes.present(connection, self._backend, DEFERRED_TABLES,
                                         self._deferred):
                connection.exec_driver_sql(index.drop)

    def write_state(self) -> None:
        """Write every state, chain head and position held in memory."""
        connection = self.connection
        updated_at = self._clock()
        with connection.begin():
            rows = [state_row(state) for _key, state in sorted(self._states.items())]
            if rows:
                with self._backend.bulk_appender(connection, credentials, list(rows[0])) as add:
                    for row in rows:
                        add(row)
            if self._heads:
                connection.execute(insert(audit_chain_heads), [
                    {"topic": topic, "partition": partition, "last_offset": head.last_offset,
                     "chain_hash": head.chain_hash, "length": head.length,
                     "frontier": [value.hex() for value in head.frontier]}
                    for (topic, partition), head in sorted(self._heads.items())
                ])
            if self._positions:
                connection.execute(insert(consumer_positions), [
                    {"topic": topic, "partition": partition, "next_offset": offset,
                     "updated_at": updated_at}
                    for (topic, partition), offset in sorted(self._positions.items())
                ])
        log.info("bulk load of %s wrote %d credentials, %d partitions", self._topic,
                 len(self._states), len(self._positions))

    def complete(self, deferred: Sequence[DeferredIndex] | None = None) -> None:
        """Build the deferred indexes (those :meth:`prepare` dropped, or ``deferred``) that
        are missing (:mod:`projections.bulk.indexes`) and delete the marker row, durably. A
        unique constraint that a repeated event id breaks fails here (IntegrityError), and
        the marker stays."""
        opened = self._connection is None
        if opened:
            self.open()
        connection = self.connection
        try:
            with connection.begin():
                wanted = indexes.missing(connection, self._backend, DEFERRED_TABLES,
                                         self._deferred if deferred is None else deferred)
            indexes.build(self._engine, connection, self._backend, wanted)
            self._backend.restore_durability(connection)
            with connection.begin():
                connection.execute(delete(bulk_loads).where(bulk_loads.c.topic == self._topic))
        finally:
            if opened:
                connection.close()
                self._connection = None
        log.info("bulk load of %s finished", self._topic)

    @property
    def deferred(self) -> list[DeferredIndex]:
        """The indexes :meth:`prepare` dropped."""
        return list(self._deferred)

    def close(self) -> None:
        """Release the connection and the ledger (an unfinished load keeps its marker)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self.ledger.close()
