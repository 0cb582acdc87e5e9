"""How long confluent-kafka's `Consumer.consume(n, timeout)` waits when fewer than n messages
arrive: the contract `sinks/reader.py` is built on (docs/decisions/0009, sink batches).

    .venv/bin/python benchmarks/consume_wait.py [--rate 100]

On the running local stack: a thread produces --rate messages/s into a fresh one-partition
topic while the consumer calls `consume(5000, timeout)` and `consume(1, timeout)` for a few
timeouts; prints what each call returned and after how long. Deletes its topic. Asserts
nothing.
"""

from __future__ import annotations

import argparse
import threading
import time
import uuid

from opdbus import config as config_module
from opdbus.kafka import ensure_topics, make_admin, make_consumer, make_producer, topic_spec

CALLS = ((5000, 0.5), (5000, 0.5), (5000, 0.1), (5000, 2.0), (1, 0.5), (1, 0.5))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=100, help="messages/s produced")
    args = parser.parse_args()
    config = config_module.load()
    topic = f"bench.consume-wait.{uuid.uuid4().hex[:8]}"
    admin = make_admin(config)
    ensure_topics(admin, [topic_spec(topic, 1)])
    stop = threading.Event()

    def produce() -> None:
        producer = make_producer(config, **{"linger.ms": 0})
        while not stop.is_set():
            producer.produce(topic, b"x")
            producer.poll(0)
            time.sleep(1 / args.rate)
        producer.flush(10)

    consumer = make_consumer(config, f"bench-consume-wait-{uuid.uuid4().hex[:8]}")
    consumer.subscribe([topic])
    producing = threading.Thread(target=produce)
    producing.start()
    try:
        consumer.consume(1, 30)  # assigned and reading before anything is timed
        print(f"{args.rate:g} messages/s arriving:")
        for wanted, timeout in CALLS:
            started = time.monotonic()
            got = consumer.consume(wanted, timeout)
            print(
                f"  consume({wanted}, {timeout}) -> {len(got)} messages "
                f"after {time.monotonic() - started:.3f}s"
            )
    finally:
        stop.set()
        producing.join()
        consumer.close()
        admin.delete_topics([topic])


if __name__ == "__main__":
    main()
