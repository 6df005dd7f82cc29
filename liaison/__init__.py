"""Liaison's wiring: settings, database, jobs, the Starlette app factory and the `liaison` CLI.

This package may import `bot`, `channels` and `workshops`; they never import the app or the CLI.
"""
