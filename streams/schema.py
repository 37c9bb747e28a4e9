"""Topics whose keys and values are the records' bytes, decoded without Faust's serializers.

Every topic of the worker carries raw bytes (our own JSON is parsed by the agents, see
:mod:`streams.records`). Faust still sends each record through its decode path - the key and
the value each through the serializer registry and the ``raw`` codec, then ``app.conf.Event``
looked up in the settings object - about 8 % of the worker's CPU with small single-reading
messages (py-spy, ``bench/ingest.py``). :class:`BytesSchema` builds the same event from the
same bytes directly: Faust's ``raw`` codec returns the bytes unchanged, so nothing differs but
the cost. :func:`bytes_topic` declares a topic with it.

Example::

    topic = bytes_topic(app, settings.topic("observations.raw"), partitions=4)

    @app.agent(topic)
    async def agent(stream): ...      # event.value is the record's bytes (or None)
"""

from __future__ import annotations

from typing import Any

import faust
from faust.types import AppT, Message, TopicT


class BytesSchema(faust.Schema[bytes, bytes]):
    """Key and value are the record's bytes as they are (``None`` stays ``None``)."""

    def __init__(self) -> None:
        super().__init__(key_type=bytes, value_type=bytes)

    def compile(self, app: AppT, **_: Any) -> Any:
        event_class: Any = app.conf.Event  # looked up once, not per record

        async def decode(message: Message, *, propagate: bool = False) -> Any:
            return event_class(app, message.key, message.value, message.headers, message)

        return decode


def bytes_topic(app: faust.App, name: str, *, partitions: int) -> TopicT:
    """Declare ``name`` on ``app`` with :class:`BytesSchema`."""
    return app.topic(name, schema=BytesSchema(), partitions=partitions)
