"""The e-SAKIP push endpoint: aiohttp in the connector's main thread, Kafka in another.

POST /v1/<entity> (docs/connectors-brief.md, docs/decisions/0006-http-push.md): authenticate
the OPD, check the body completely, then hand the whole batch to the group committer and
answer 202 only once Kafka acknowledged every event of it. Anything refused before that point
published nothing.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from opdbus.config import ConfigError

from .acks import GroupCommitter, NotAccepted
from .credentials import Authenticator
from .events import Origin, to_events
from .metrics import observe
from .problems import Problem, Rejected
from .request_ids import HEADER, RecentRequests, request_id
from .validation import ItemValidator, parse_body

log = logging.getLogger("opdbus.connect.http_push")

RETRY_AFTER_S = 5


@dataclass(frozen=True)
class Settings:
    source: str
    host: str
    port: int
    max_body_bytes: int
    topic_pattern: str
    ack_timeout_s: float


class PushServer:
    def __init__(
        self,
        settings: Settings,
        topics: dict[str, dict[str, Any]],
        entity_record: dict[str, Any],
        origin: Origin,
        authenticator: Authenticator,
        committer: GroupCommitter,
    ) -> None:
        self.settings = settings
        self.topics = topics
        self.validator = ItemValidator(entity_record)
        self.origin = origin
        self.authenticator = authenticator
        self.committer = committer
        self.recent = RecentRequests()
        self.stopping = False
        self._in_flight = 0

    # --- the request, step by step; each step raises Rejected with what is wrong -----------

    def _opd(self, request: web.Request) -> str:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Rejected(
                401, "no credentials", [Problem("Authorization", "must be 'Bearer <token>'")]
            )
        opd = self.authenticator.opd_for(token.strip())
        if opd is None:
            raise Rejected(
                401, "unknown token", [Problem("Authorization", "token is not known or revoked")]
            )
        return opd

    def _topic(self, opd: str) -> str:
        topic = self.settings.topic_pattern.format(opd=opd)
        if (self.topics.get(topic) or {}).get("schema") != self.validator.entity:
            rule = f"has no declared topic ({topic} with schema {self.validator.entity})"
            raise Rejected(403, "no topic for this OPD", [Problem("kode_opd", rule)])
        return topic

    async def _body(self, request: web.Request) -> bytes:
        limit = self.settings.max_body_bytes
        too_large = Rejected(
            413, "body too large", [Problem("body", f"must be at most {limit} bytes")]
        )
        if request.content_length is not None and request.content_length > limit:
            raise too_large
        try:
            return await request.read()  # the app's client_max_size stops chunked bodies too
        except web.HTTPRequestEntityTooLarge:
            raise too_large from None

    async def push(self, request: web.Request) -> web.Response:
        started = time.monotonic()
        self._in_flight += 1
        try:
            response, items = await self._answer(request)
        finally:
            self._in_flight -= 1
        observe(self.settings.source, response.status, time.monotonic() - started, items)
        return response

    async def _answer(self, request: web.Request) -> tuple[web.Response, int]:
        rid: str | None = None
        items = 0
        try:
            if self.stopping:
                raise NotAccepted("shutting down")
            opd = self._opd(request)
            rid = request_id(request.headers.get(HEADER))
            topic = self._topic(opd)
            rows = parse_body(await self._body(request))
            items = len(rows)
            records = self.validator.records(rows, opd)
            self.recent.check(opd, rid, records)
            events = to_events(self.origin, opd, topic, rid, records)
            await asyncio.wrap_future(self.committer.submit(events))
            body = {
                "accepted": len(events),
                "request_id": rid,
                "event_ids": [e.event["event_id"] for e in events],
            }
            response = web.json_response(body, status=202)
        except Rejected as rejected:
            log.debug("refused %s: %s", rid, rejected)
            headers = (
                {"WWW-Authenticate": 'Bearer realm="opdbus"'} if rejected.status == 401 else {}
            )
            response = web.json_response(
                rejected.body(rid), status=rejected.status, headers=headers
            )
        except NotAccepted as exc:
            if not self.stopping:
                log.warning("request %s not accepted: %s", rid, exc)
            rule = f"was not accepted ({exc}); retry later with the same {HEADER}"
            body = Rejected(503, "not accepted, retry", [Problem("items", rule)]).body(rid)
            headers = {"Retry-After": str(RETRY_AFTER_S)}
            response = web.json_response(body, status=503, headers=headers)
        return response, items

    async def healthz(self, request: web.Request) -> web.Response:
        if self.stopping:
            return web.json_response({"status": "stopping"}, status=503)
        return web.json_response({"status": "ok", "opds": len(self.authenticator.opds)})

    # --- lifecycle ----------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=self.settings.max_body_bytes)
        app.router.add_post(f"/v1/{self.validator.entity}", self.push)
        app.router.add_get("/healthz", self.healthz)
        return app

    def run(self, stop: threading.Event) -> None:
        asyncio.run(self._serve(stop))

    async def _serve(self, stop: threading.Event) -> None:
        s = self.settings
        # Short: by the time aiohttp's own shutdown runs, only idle connections are left.
        runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        self.committer.start()
        try:
            site = web.TCPSite(runner, s.host, s.port)
            try:
                await site.start()
            except OSError as exc:
                where = f"{s.host}:{s.port} (sources.{s.source}.host/port)"
                raise ConfigError(f"cannot listen on {where}: {exc.strerror}") from exc
            log.info("push API for %s on http://%s:%d", s.source, s.host, s.port)
            while not stop.is_set():
                await asyncio.sleep(0.1)
        finally:
            await self._shutdown(runner)

    async def _shutdown(self, runner: web.AppRunner) -> None:
        self.stopping = True  # requests on open connections now get 503
        for site in list(runner.sites):
            await site.stop()  # no new connections
        # Requests being handled may be waiting for their ack: let them get their answer. The
        # short grace lets connections accepted just before the listener closed be answered
        # 503; aiohttp's own shutdown would drop them unanswered after its whole timeout.
        loop = asyncio.get_running_loop()
        grace, deadline = loop.time() + 0.25, loop.time() + self.settings.ack_timeout_s + 5
        while (self._in_flight or loop.time() < grace) and loop.time() < deadline:
            await asyncio.sleep(0.01)
        await runner.cleanup()
        await loop.run_in_executor(None, self.committer.close)
