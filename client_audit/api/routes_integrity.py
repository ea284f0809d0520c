"""Integrity evidence over HTTP: the heads of the audit log's and access log's hash chains."""

from __future__ import annotations

from fastapi import APIRouter

from client_audit.api.access_record import Recorded
from client_audit.api.database import ReadOnlyConnection
from client_audit.api.errors import ERROR_RESPONSES
from client_audit.api.models import AccessChainHead, AuditChainHead, ChainHeads
from client_audit.api.scopes import requires
from projections.chain.access_verify import access_head
from projections.chain.heads import all_heads
from projections.model.access import Scope

router = APIRouter(
    prefix="/v1/integrity",
    tags=["integrity"],
    dependencies=[requires(Scope.READ_INTEGRITY)],
    responses=ERROR_RESPONSES,
)


@router.get("/heads", summary="The heads of the hash chains")
def chain_heads(connection: ReadOnlyConnection, record: Recorded) -> ChainHeads:
    """Per audit-log partition the offset, chain hash and length of its chain's last row,
    and the same of the access log's chain. Recorded elsewhere now and then, they let
    anyone later check that the stored logs were only ever appended to: `client-audit
    verify-log` reports the hash each chain ends on."""
    audit = [
        AuditChainHead(topic=topic, partition=partition, last_offset=head.last_offset,
                       chain_hash=head.chain_hash, length=head.length)
        for (topic, partition), head in sorted(all_heads(connection).items())
    ]
    access = access_head(connection)
    record.returned(len(audit) + (access is not None))
    return ChainHeads(
        audit_log=audit,
        access_log=None if access is None else AccessChainHead(
            last_position=access.last_offset, chain_hash=access.chain_hash,
            length=access.length,
        ),
    )
