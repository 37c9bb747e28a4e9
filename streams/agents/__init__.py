"""The worker's agents and timers; each module exposes ``register(app, runtime)``."""
