"""The web server of the centre: live operations page, HTTP ingest, websocket fan-out.

Built by :func:`dashboard.app.create_app` (the one composition point); nothing connects at
import. Run it with ``ioc dashboard``.
"""
