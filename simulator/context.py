"""What every simulated system shares during a run: settings, seed, faults, manifest, calendar."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

from opdbus.simulator.clock import OfficeHours
from opdbus.simulator.draw import rng_for
from opdbus.simulator.engine import Scheduler
from opdbus.simulator.faults import Faults
from opdbus.simulator.manifest import BadRecord, Manifest
from opdbus.simulator.settings import Settings


@dataclass
class Context:
    settings: Settings
    seed: int
    bad_share: float
    start: dt.datetime
    manifest: Manifest
    scheduler: Scheduler
    office: OfficeHours

    @classmethod
    def create(cls, settings: Settings, seed: int, bad_share: float, start: dt.datetime) -> Context:
        return cls(
            settings=settings,
            seed=seed,
            bad_share=bad_share,
            start=start,
            manifest=Manifest(seed=seed),
            scheduler=Scheduler(),
            office=OfficeHours.from_settings(settings["office_hours"]),
        )

    def rng(self, *purpose: object) -> random.Random:
        return rng_for(self.seed, *purpose)

    def faults(self, system: str) -> Faults:
        return Faults(self.bad_share, self.rng(system, "faults"))

    def bad(self, system: str, table: str, key: Any, kind: str, field: str, activity: str) -> None:
        self.manifest.add_bad(BadRecord(system, table, str(key), kind, field, activity))

    def count(self, system: str, table: str, rows: int = 1) -> None:
        self.manifest.records[f"{system}.{table}"] += rows
