"""One reading of everything the broker and the CDC databases say about the bus's health.

A service that cannot be reached becomes an entry in `errors` (target -> message), never an
exception: the collector keeps running and status keeps printing.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import psycopg
from confluent_kafka import KafkaException

from opdbus.config import Config, ConfigError
from opdbus.observe import figures
from opdbus.observe.broker import Broker, BrokerUnreachable, kafka_message
from opdbus.observe.settings import ObserveSettings
from opdbus.observe.slots import SlotReading, read_slot
from opdbus.observe.sources import cdc_slots, source_topics

KAFKA = "kafka"

log = logging.getLogger("opdbus.observe.collect")


def postgres_target(source: str) -> str:
    return f"postgres:{source}"


@dataclass
class Snapshot:
    taken_at: float
    targets: list[str]
    errors: dict[str, str] = field(default_factory=dict)
    consumer_lag: list[figures.PartitionLag] = field(default_factory=list)
    # Sources whose topics hold nothing yet map to None.
    freshness: dict[str, float | None] = field(default_factory=dict)
    dead_letters: dict[str, int] = field(default_factory=dict)
    slots: dict[str, SlotReading] = field(default_factory=dict)

    def reachable(self, target: str) -> bool:
        return target not in self.errors


def _partitions(topics: set[str], counts: dict[str, int]) -> list[tuple[str, int]]:
    """Every partition of the topics that exist (a group may still name a deleted topic)."""
    return [(t, p) for t in sorted(topics & counts.keys()) for p in range(counts[t])]


def _read_broker(snap: Snapshot, broker: Broker, config: Config, settings: ObserveSettings) -> None:
    partitions = broker.topics()
    groups = [g for g in broker.group_ids() if settings.watches_group(g)]
    committed = broker.committed(groups)
    topics_of = source_topics(config)
    consumed = {t for offsets in committed.values() for t, _ in offsets}
    dead_letter = {t for t in partitions if t.startswith(figures.DLQ_PREFIX)}
    published = {t for ts in topics_of.values() for t in ts}
    ends = broker.end_offsets(_partitions(consumed | dead_letter, partitions))
    newest = broker.newest_timestamps(_partitions(published, partitions))
    snap.consumer_lag = figures.consumer_lag(committed, ends, settings.watches_group)
    snap.dead_letters = figures.dead_letter_totals(ends)
    snap.freshness = figures.freshness(newest, topics_of, time.time())


def read_snapshot(config: Config, settings: ObserveSettings, broker: Broker) -> Snapshot:
    slots = cdc_slots(config)
    snap = Snapshot(time.time(), [KAFKA, *(postgres_target(s.source) for s in slots)])
    try:
        _read_broker(snap, broker, config, settings)
    except (BrokerUnreachable, KafkaException, TimeoutError) as exc:
        snap.errors[KAFKA] = _message(exc)
    except Exception as exc:  # an answer we did not expect: say so, keep collecting
        log.exception("reading the broker failed")
        snap.errors[KAFKA] = f"unexpected {type(exc).__name__}: {exc}"
    for slot in slots:
        target = postgres_target(slot.source)
        try:
            snap.slots[slot.source] = read_slot(
                config.postgres_url(slot.database), slot, settings.timeout_s
            )
        except (psycopg.Error, ConfigError) as exc:
            snap.errors[target] = _message(exc)
        except Exception as exc:
            log.exception("reading slot %s failed", slot.slot)
            snap.errors[target] = f"unexpected {type(exc).__name__}: {exc}"
    return snap


def _message(exc: BaseException) -> str:
    """First line only: psycopg's messages run to several lines."""
    text = (kafka_message(exc) if isinstance(exc, KafkaException) else str(exc)).strip()
    return text.splitlines()[0] if text else f"{type(exc).__name__} (no answer in time)"
