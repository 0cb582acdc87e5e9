"""faust-streaming's agent loop doing nothing per event: the ceiling a faust processor could
reach on this machine (decision 0011). Run by benchmarks/processor.py as

    FAUST_LOOP_APP=<app id> FAUST_LOOP_TOPIC=<topic> FAUST_LOOP_COUNT=<n> \
        python benchmarks/faust_loop.py worker

and prints "faust loop: <n> events in <s> s" when it has read n events, then exits.
"""

from __future__ import annotations

import os
import time

import faust

TOPIC = os.environ["FAUST_LOOP_TOPIC"]
COUNT = int(os.environ["FAUST_LOOP_COUNT"])

app = faust.App(
    os.environ["FAUST_LOOP_APP"],  # faust makes <app id>-__assignor-__leader; the caller deletes it
    broker=os.environ.get("FAUST_LOOP_BROKER", "kafka://127.0.0.1:9092"),
    store="memory://",
    web_enabled=False,
    consumer_auto_offset_reset="earliest",
)
seen = {"n": 0, "started": 0.0}


@app.agent(app.topic(TOPIC, key_serializer="raw", value_serializer="raw"), concurrency=1)
async def count(stream: faust.StreamT) -> None:
    async for _event in stream.events():
        if seen["n"] == 0:
            seen["started"] = time.monotonic()
        seen["n"] += 1
        if seen["n"] >= COUNT:
            print(f"faust loop: {COUNT} events in {time.monotonic() - seen['started']:.2f} s")
            os._exit(0)  # a benchmark: no graceful shutdown needed


if __name__ == "__main__":
    app.main()
