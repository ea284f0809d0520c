"""The access log's chain hash: the documented canonical document, hashed with the link."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from projections.chain.access_hashing import access_chain_hash, access_document
from projections.chain.hashing import GENESIS_HASH
from projections.model.access import AccessEntry

ENTRY = AccessEntry(
    at=datetime(2026, 3, 3, 10, 0, tzinfo=UTC),
    token_name="ci-reader",
    method="GET",
    route="/v1/trail",
    status=200,
    parameters={"userId": "ユーザー", "eventType": ["CREATED", "USED"]},
    rows_returned=2,
    client_address="127.0.0.1",
)


def test_the_document_is_sorted_compact_utf8_json_without_nulls() -> None:
    refused = AccessEntry(ENTRY.at, None, "GET", "/v1/trail", 401, {}, None, None)
    assert access_document(7, refused) == (
        b'{"at":"2026-03-03T10:00:00.000000Z","method":"GET","parameters":{},"position":7,'
        b'"route":"/v1/trail","status":401}'
    )
    expected = json.dumps({
        "at": "2026-03-03T10:00:00.000000Z", "clientAddress": "127.0.0.1", "method": "GET",
        "parameters": {"eventType": ["CREATED", "USED"], "userId": "ユーザー"}, "position": 1,
        "route": "/v1/trail", "rowsReturned": 2, "status": 200, "tokenName": "ci-reader",
    }, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert access_document(1, ENTRY) == expected


def test_the_hash_links_the_previous_hash_bytes_and_the_document() -> None:
    digest = hashlib.sha256(bytes.fromhex(GENESIS_HASH) + access_document(1, ENTRY))
    assert access_chain_hash(GENESIS_HASH, 1, ENTRY) == digest.hexdigest()


def test_every_column_and_the_position_change_the_hash() -> None:
    base = access_chain_hash(GENESIS_HASH, 1, ENTRY)
    variants = [
        AccessEntry(ENTRY.at, "other", "GET", "/v1/trail", 200, ENTRY.parameters, 2, "127.0.0.1"),
        AccessEntry(ENTRY.at, "ci-reader", "HEAD", "/v1/trail", 200, ENTRY.parameters, 2,
                    "127.0.0.1"),
        AccessEntry(ENTRY.at, "ci-reader", "GET", "/v1/uses", 200, ENTRY.parameters, 2,
                    "127.0.0.1"),
        AccessEntry(ENTRY.at, "ci-reader", "GET", "/v1/trail", 403, ENTRY.parameters, 2,
                    "127.0.0.1"),
        AccessEntry(ENTRY.at, "ci-reader", "GET", "/v1/trail", 200, {}, 2, "127.0.0.1"),
        AccessEntry(ENTRY.at, "ci-reader", "GET", "/v1/trail", 200, ENTRY.parameters, 3,
                    "127.0.0.1"),
        AccessEntry(ENTRY.at, "ci-reader", "GET", "/v1/trail", 200, ENTRY.parameters, 2,
                    "127.0.0.2"),
    ]
    hashes = {access_chain_hash(GENESIS_HASH, 1, variant) for variant in variants}
    hashes.add(access_chain_hash(GENESIS_HASH, 2, ENTRY))
    hashes.add(access_chain_hash("ab" * 32, 1, ENTRY))
    assert base not in hashes and len(hashes) == len(variants) + 2
