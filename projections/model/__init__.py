"""Pure values of the projection: credential state, anomalies, addresses, the fold. No SQL."""
