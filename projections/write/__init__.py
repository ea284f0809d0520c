"""The write path: applying batches of positioned events to the projection store."""
