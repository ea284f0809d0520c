"""The audit log's hash chain: canonical hashing, chain heads, walking and verifying."""
