"""Fault drills: long simulated streams through a broker and PostgreSQL of their own."""
