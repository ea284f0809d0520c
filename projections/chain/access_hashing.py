"""The access log's hash chain: a canonical encoding of one recorded request and its link.

One chain runs through the whole access log in position order (1, 2, 3 ...)::

    chain_hash = hex(SHA-256(bytes.fromhex(previous_hash) || canonical_json(document)))

- ``previous_hash`` is the chain hash of the row at the position before, or
  :data:`~projections.chain.hashing.GENESIS_HASH` for position 1.
- ``document`` holds the row's columns under camelCase names: ``at`` (UTC text with six
  fractional digits and ``Z``), ``clientAddress``, ``method``, ``parameters`` (an object of
  texts and arrays of texts), ``position``, ``route``, ``rowsReturned``, ``status``,
  ``tokenName``; members whose value is null are left out.
- ``canonical_json`` is the same RFC 8785 encoding the audit chain uses: members sorted
  by name, no insignificant whitespace, UTF-8 without escapes.

Pure: no database.
"""

from __future__ import annotations

from typing import Any

import orjson

from projections.chain.hashing import instant_text, link_hash
from projections.model.access import AccessEntry


def access_document(position: int, entry: AccessEntry) -> bytes:
    """The canonical JSON bytes hashed for ``entry`` recorded at ``position``."""
    document: dict[str, Any] = {
        "at": instant_text(entry.at),
        "clientAddress": entry.client_address,
        "method": entry.method,
        "parameters": entry.parameters,
        "position": position,
        "route": entry.route,
        "rowsReturned": entry.rows_returned,
        "status": entry.status,
        "tokenName": entry.token_name,
    }
    present = {name: value for name, value in document.items() if value is not None}
    return orjson.dumps(present, option=orjson.OPT_SORT_KEYS)


def access_chain_hash(previous_hash: str, position: int, entry: AccessEntry) -> str:
    """The chain hash of ``entry`` recorded at ``position`` after ``previous_hash``."""
    return link_hash(previous_hash, access_document(position, entry))
