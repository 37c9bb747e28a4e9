"""Hai Phong intelligent operations centre: core (settings, domain, storage, CLI)."""

__version__ = "0.1.0"
