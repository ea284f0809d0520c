"""Who may read, and who read what: API bearer tokens (stored as hashes, with scopes) and the
append to the access log's hash chain."""
