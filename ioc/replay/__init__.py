"""Replay of real sensor data sets as the city's live feeds (``ioc replay``).

``sources`` reads the real files into time-ordered readings, ``schedule`` compresses time,
``runner`` merges and batches, ``sinks`` sends over HTTP, MQTT or Kafka, ``progress`` shows
how far it got. The values and their order are the real data; only time is moved.
"""
