"""Topic names of the stream processing and how records are spread over partitions.

Every name goes through ``settings.topic(...)`` so a prefix (``IOC_TOPIC_PREFIX``) isolates
one deployment, or one test module, from another on a shared broker. The topics are created
explicitly before the worker subscribes: the embedded broker does not auto-create topics.

Readings of one sensor always go to the same ``observations`` partition (:func:`partition_for`),
so that exactly one ``alerts`` agent, in one worker, holds the alert state of that sensor.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from ioc.settings import Settings

RAW = "observations.raw"
OBSERVATIONS = "observations"
DASHBOARD = "dashboard"
VIOLATIONS = "violations"  # consumed by streams/agents/violations.py
FEEDBACK = "feedback.reports"  # consumed by streams/agents/feedback.py
TRAFFIC_FLOW = "traffic.flow"  # consumed by streams/agents/traffic_flow.py
SOURCE_HEADER = "ioc-source"


@dataclass(frozen=True, slots=True)
class TopicNames:
    """Full (prefixed) names of the topics the worker reads and writes."""

    raw: str
    observations: str
    dashboard: str

    @classmethod
    def from_settings(cls, settings: Settings) -> TopicNames:
        return cls(settings.topic(RAW), settings.topic(OBSERVATIONS), settings.topic(DASHBOARD))

    def all(self) -> list[str]:
        return [self.raw, self.observations, self.dashboard]


def partition_for(sensor_id: str, partitions: int) -> int:
    """Stable partition of a sensor (crc32, the same in every process and Python version)."""
    return zlib.crc32(sensor_id.encode("utf-8")) % partitions


def worker_topic_names(settings: Settings) -> list[str]:
    """Every topic :func:`ensure_topics` creates: the worker's own, violations, citizen
    feedback and traffic flow."""
    return [
        *TopicNames.from_settings(settings).all(),
        settings.topic(VIOLATIONS),
        settings.topic(FEEDBACK),
        settings.topic(TRAFFIC_FLOW),
    ]


async def ensure_topics(bootstrap: str, settings: Settings) -> list[str]:
    """Create the worker's topics when missing; returns those that were created."""
    from ioc.services.broker import create_topics

    names = worker_topic_names(settings)
    return await create_topics(bootstrap, names, settings.topic_partitions)
