"""Persistence: the content-addressed document store (and, next, the database)."""
