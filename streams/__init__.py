"""Stream processing of the centre (Faust): ingest → TimescaleDB, rollups, alerts.

Start with :func:`streams.app.create_app`; ``ioc worker`` runs it. See docs/CONTRACTS.md for
the topics and messages.
"""
