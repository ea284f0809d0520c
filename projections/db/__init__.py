"""The storage schema: tables, rows, migrations, engines and the per-backend SQL."""
