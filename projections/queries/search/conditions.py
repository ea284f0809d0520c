"""SQL conditions of a search filter on ``audit_log``, values as bound parameters only.

Ids, types, outcomes and reasons compare columns with the values; anomaly kinds test the
entry's flags; roles and free words ask ``EXISTS`` of the credential's current row in
``credentials`` (its scoped roles; its display name containing each word, ASCII letters in
either case); addresses and networks use the backend's address tests, with the exact
Python check the backend leaves over where SQL only narrows (SQLite). A negated value
keeps entries without that column's value (a non-use has no source address or outcome).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Column, RowMapping, exists, not_, or_, select
from sqlalchemy.sql.elements import ColumnElement

from projections.db.backends import Backend, Keep
from projections.db.tables import audit_log, credentials
from projections.model.addresses import network_contains
from projections.queries.audit_pages import in_window
from projections.queries.search.model import SearchFilter, Terms


def _matching(column: Column[Any], values: Sequence[str], backend: Backend) -> ColumnElement[bool]:
    if len(values) == 1:
        return column == values[0]
    return backend.one_of(column, list(values))


def _compared(
    column: Column[Any], terms: Terms[Any], backend: Backend
) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if terms.any_of:
        found.append(_matching(column, [str(value) for value in terms.any_of], backend))
    if terms.none_of:
        excluded = not_(_matching(column, [str(value) for value in terms.none_of], backend))
        found.append(or_(column.is_(None), excluded) if column.nullable else excluded)
    return found


def _credential_has(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    """The entry's credential, in its current state, satisfies ``condition``."""
    return exists(
        select(credentials.c.credential_id).where(
            credentials.c.credential_id == audit_log.c.credential_id, condition
        )
    )


def _credential_conditions(query: SearchFilter, backend: Backend) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    roles = credentials.c.scoped_roles
    if query.roles.any_of:
        found.append(_credential_has(backend.contains_any(roles, list(query.roles.any_of))))
    if query.roles.none_of:
        found.append(
            not_(_credential_has(backend.contains_any(roles, list(query.roles.none_of))))
        )
    name = credentials.c.display_name
    found += [_credential_has(backend.contains_text(name, word)) for word in query.words.any_of]
    found += [
        not_(_credential_has(backend.contains_text(name, word))) for word in query.words.none_of
    ]
    return found


def _flag_conditions(query: SearchFilter, backend: Backend) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if query.flagged is not None:
        found.append(audit_log.c.is_anomaly.is_(query.flagged))
    flags = audit_log.c.anomalies
    if query.anomalies.any_of:
        found.append(backend.contains_any(flags, [kind.value for kind in query.anomalies.any_of]))
    if query.anomalies.none_of:
        found.append(
            not_(backend.contains_any(flags, [kind.value for kind in query.anomalies.none_of]))
        )
    return found


class _InNetworks:
    """The exact test of a row's source address against networks (any, or none of them)."""

    def __init__(self, networks: Sequence[str], wanted: bool) -> None:
        self.networks = tuple(networks)
        self.wanted = wanted

    def __call__(self, row: RowMapping) -> bool:
        address = row["source_ip"]
        inside = any(network_contains(network, address) for network in self.networks)
        return inside is self.wanted


def _address_conditions(
    terms: Terms[str], backend: Backend
) -> tuple[list[ColumnElement[bool]], list[Keep]]:
    column = audit_log.c.source_ip
    found: list[ColumnElement[bool]] = []
    keeps: list[Keep] = []
    for networks, wanted in ((terms.any_of, True), (terms.none_of, False)):
        if not networks:
            continue
        tests = [backend.address_in_network(column, network) for network in networks]
        narrowed = or_(*(condition for condition, _keep in tests))
        exact = all(keep is None for _condition, keep in tests)
        if wanted:
            found.append(narrowed)
        elif exact:
            found.append(or_(column.is_(None), not_(narrowed)))
        if not exact:
            keeps.append(_InNetworks(networks, wanted))
    return found, keeps


class _AllOf:
    def __init__(self, keeps: Sequence[Keep]) -> None:
        self.keeps = tuple(keeps)

    def __call__(self, row: RowMapping) -> bool:
        return all(keep(row) for keep in self.keeps)


def search_conditions(
    query: SearchFilter, backend: Backend
) -> tuple[list[ColumnElement[bool]], Keep | None]:
    """The SQL conditions of a search filter, and the exact Python check SQL leaves over."""
    conditions = in_window(audit_log.c.occurred_at, query)
    for column, terms in (
        (audit_log.c.credential_id, query.credentials),
        (audit_log.c.user_id, query.users),
        (audit_log.c.client_id, query.clients),
        (audit_log.c.actor_id, query.actors),
        (audit_log.c.correlation_id, query.correlations),
        (audit_log.c.event_type, query.event_types),
        (audit_log.c.outcome, query.outcomes),
        (audit_log.c.denial_reason, query.reasons),
    ):
        conditions += _compared(column, terms, backend)
    conditions += _flag_conditions(query, backend)
    conditions += _credential_conditions(query, backend)
    keeps: list[Keep] = []
    for terms in (query.addresses, query.networks):
        found, exact = _address_conditions(terms, backend)
        conditions += found
        keeps += exact
    if not keeps:
        return conditions, None
    return conditions, keeps[0] if len(keeps) == 1 else _AllOf(keeps)

