"""Create the centre's Kafka topics on a cluster *before* any process starts, replicated.

The processes create missing topics themselves, but with the embedded broker's replication
factor; run this once per deployment (the compose file and the Kubernetes Job do) so every
topic exists with ``IOC_TOPIC_REPLICATION_FACTOR`` replicas and ``min.insync.replicas`` set
by the brokers' defaults. Existing topics are left alone (partitions can only be raised with
``kafka-topics.sh --alter``).

    IOC_KAFKA_BOOTSTRAP_SERVERS=kafka-0:9092,kafka-1:9092,kafka-2:9092 \\
    IOC_TOPIC_REPLICATION_FACTOR=3 IOC_TOPIC_PARTITIONS=12 python infra/deploy/create_topics.py
"""

from __future__ import annotations

import asyncio
import sys

from ioc.services.broker import create_topics
from ioc.settings import Settings
from streams import topics

NAMES = (
    topics.RAW,
    topics.OBSERVATIONS,
    topics.DASHBOARD,
    topics.VIOLATIONS,
    topics.FEEDBACK,
    topics.TRAFFIC_FLOW,
)


def main() -> int:
    settings = Settings()
    if not settings.kafka_bootstrap_servers:
        print("error: set IOC_KAFKA_BOOTSTRAP_SERVERS", file=sys.stderr)
        return 2
    names = [settings.topic(n) for n in NAMES]
    created = asyncio.run(
        create_topics(
            settings.kafka_bootstrap_servers,
            names,
            settings.topic_partitions,
            settings.topic_replication_factor,
        )
    )
    for name in names:
        print(f"{name}: {'created' if name in created else 'exists'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
