"""Evidence for people who do not trust the database: proofs, bundles, and checking them.

- ``proofs``: an inclusion proof of one audit entry against a signed checkpoint, and a
  consistency proof between two sizes of a partition's log, built from the store;
- ``bundle``: a self-contained folder of a credential's entries with their proofs;
- ``verification``: checking a proof or a bundle with nothing but it and a public key.
"""
