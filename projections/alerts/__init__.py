"""Alerts: the flagged audit entries pushed to security teams' tools, and how they travel."""
