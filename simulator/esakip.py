"""The e-SAKIP app: OPDs push their indicator realisations to the bus's HTTP push API
(POST /v1/kinerja, a Bearer token per OPD). An unreachable endpoint is counted, not fatal."""

from __future__ import annotations

import datetime as dt
import json
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from opdbus.config import ConfigError
from opdbus.rules import opds
from opdbus.simulator.clock import WIB, local_date
from opdbus.simulator.context import Context
from opdbus.simulator.faults import JSON_ITEM
from opdbus.simulator.indikator import indikator_of, realisasi_value

SYSTEM, TABLE = "esakip", "kinerja"
REQUIRED = (
    "id",
    "kode_opd",
    "kode_indikator",
    "tahun",
    "jenis_periode",
    "periode",
    "realisasi",
    "satuan",
    "dilaporkan_pada",
)
WRONG_TYPES: Mapping[str, tuple[Any, ...]] = {
    "realisasi": ("85,5 %", "tercapai", [85.5]),
    "tahun": ("2026a", "TA 2026"),
    "periode": ("III", "TW-2"),
}


def load_tokens(path: Path) -> dict[str, str]:
    """opd -> token, from a YAML mapping of `opd: token` or `opd: {token: ...}`."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        return {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"e-SAKIP tokens file {path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"e-SAKIP tokens file {path} must map OPD slugs to tokens")
    tokens = {}
    for opd, value in data.items():
        token = value.get("token") if isinstance(value, dict) else value
        if token:
            tokens[str(opd)] = str(token)
    return tokens


@dataclass
class Response:
    status: int  # 0: no answer (unreachable, timeout)
    body: str


class Esakip:
    def __init__(
        self,
        ctx: Context,
        url: str,
        tokens: Mapping[str, str],
        timeout_s: float = 2.0,
        backoff_s: float = 10.0,
    ) -> None:
        self.ctx = ctx
        self.url = url
        self.tokens = dict(tokens)
        self.timeout_s = timeout_s
        self.backoff_s = backoff_s
        self.spec = ctx.settings["esakip"]
        self.rng = ctx.rng(SYSTEM)
        self.faults = ctx.faults(SYSTEM)
        self.fault_rng = ctx.rng(SYSTEM, "fault-values")
        self.pushes = 0
        self._quiet_until = 0.0
        known = {opd.slug: opd for opd in opds()}
        self.opds = [known[slug] for slug in sorted(self.tokens) if slug in known]

    def handlers(self) -> dict[str, Any]:
        return {"lapor_kinerja": self.lapor_kinerja}

    def items(self, at: dt.datetime) -> tuple[str, list[dict[str, Any]]]:
        """One OPD and its realisations for a quarter: the one under way, or the one just
        closed."""
        rng = self.rng
        opd = rng.choice(self.opds)
        today = local_date(at)
        tahun, quarter = today.year, (today.month - 1) // 3 + 1
        if rng.random() < 0.5:
            tahun, quarter = (tahun, quarter - 1) if quarter > 1 else (tahun - 1, 4)
        reported = at.astimezone(WIB).isoformat(timespec="seconds")
        bounds = self.ctx.settings["indikator"]["achievement"]
        return opd.slug, [
            {
                "id": f"{tahun}-{opd.slug}-{ind.kode}-TW{quarter}",
                "kode_opd": opd.slug,
                "kode_indikator": ind.kode,
                "tahun": tahun,
                "jenis_periode": self.spec["jenis_periode"],
                "periode": quarter,
                "realisasi": realisasi_value(self.ctx.seed, tahun, opd, ind, quarter, bounds),
                "satuan": ind.satuan,
                "dilaporkan_pada": reported,
            }
            for ind in indikator_of(self.ctx.settings, opd)
        ]

    def _fault(self, item: dict[str, Any]) -> tuple[str, str] | None:
        kind = self.faults.pick(JSON_ITEM)
        if kind == "missing_field":
            field = self.fault_rng.choice(REQUIRED)
            del item[field]
            return kind, field
        if kind == "wrong_type":
            field = self.fault_rng.choice(tuple(WRONG_TYPES))
            item[field] = self.fault_rng.choice(WRONG_TYPES[field])
            return kind, field
        return None

    def post(self, token: str, request_id: str, items: list[dict[str, Any]]) -> Response:
        body = json.dumps({"items": items}).encode()
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                "X-Request-Id": request_id,
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as answer:
                return Response(answer.status, answer.read().decode(errors="replace"))
        except urllib.error.HTTPError as exc:
            return Response(exc.code, exc.read().decode(errors="replace"))
        except (OSError, urllib.error.URLError):
            return Response(0, "")

    def _send(self, token: str, request_id: str, items: list[dict[str, Any]]) -> Response:
        """POST; one retry with the same request id on a server error (the API makes a retry
        produce the same event ids)."""
        answer = self.post(token, request_id, items)
        if answer.status >= 500:
            answer = self.post(token, request_id, items)
        if answer.status == 0:
            self._quiet_until = time.monotonic() + self.backoff_s
        return answer

    def lapor_kinerja(self, at: dt.datetime) -> None:
        notes = self.ctx.manifest.notes
        if not self.opds:
            notes["esakip.no_tokens"] += 1
            return
        opd, items = self.items(at)
        clean = [dict(item) for item in items]
        faults = [self._fault(item) for item in items]
        self.pushes += 1
        request_id = f"sim{self.ctx.seed}-{at:%Y%m%dT%H%M%S}-{self.pushes:06d}"
        if time.monotonic() < self._quiet_until:
            notes["esakip.unreachable"] += 1
            return
        token = self.tokens[opd]
        answer = self._send(token, request_id, items)
        if answer.status == 0:
            notes["esakip.unreachable"] += 1
            return
        bad = [(i, fault) for i, fault in enumerate(faults) if fault]
        for i, (kind, field) in bad:
            self.ctx.bad(SYSTEM, TABLE, f"{request_id}#{i}", kind, field, "lapor_kinerja")
        if answer.status == 202:
            self.ctx.count(SYSTEM, TABLE, len(items))
            if bad:
                notes["esakip.bad_batch_accepted"] += 1
            return
        if not bad:
            notes[f"esakip.rejected_clean.{answer.status}"] += 1
            self.ctx.manifest.info["esakip_last_error"] = answer.body[:500]
            return
        notes[f"esakip.rejected.{answer.status}"] += 1
        # The officer fixes the flagged rows and submits the batch again.
        retry = self._send(token, f"{request_id}-ulang", clean)
        if retry.status == 202:
            self.ctx.count(SYSTEM, TABLE, len(clean))
        elif retry.status == 0:
            notes["esakip.unreachable"] += 1
        else:
            notes[f"esakip.rejected_clean.{retry.status}"] += 1
            self.ctx.manifest.info["esakip_last_error"] = retry.body[:500]
