"""The ASGI application: routes, each page with its JSON twin under `/api/`, health and metrics.

Handlers only translate HTTP to calls of `WebData` and documents to HTML or JSON. Reads are
GET; every state change is a POST wrapped by `guarded` (the CSRF check) when the route table
is built, so no POST route can be added without it. Templates are Jinja2 with autoescape on:
feed text reaches the page as text, and links only as http(s) (`views.item_doc`'s `link`).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from monitor.pipeline.metrics import Metrics
from monitor.tell.status import status_json
from monitor.web.data import REVIEW_STATES, WebData
from monitor.web.security import (
    CSRF_COOKIE,
    CSRF_FIELD,
    CSRF_HEADER,
    FRAMED_CSP,
    Credentials,
    GuardMiddleware,
    csrf_ok,
    origin_ok,
)

Handler = Callable[[Request], Awaitable[Response]]
NAV: tuple[tuple[str, str], ...] = (
    ("claims", "Claims"),
    ("review", "Review"),
    ("stories", "Stories"),
    ("items", "Items"),
    ("sources", "Sources"),
    ("digests", "Digests"),
)


def build_app(data: WebData, credentials: Credentials, metrics: Metrics) -> Starlette:
    """The whole web side over `data`; `metrics`: the process's counters, served at /metrics."""
    pages = Pages(data, templates(), metrics, credentials)
    return Starlette(
        routes=pages.routes(),
        middleware=[Middleware(GuardMiddleware, credentials=credentials)],
    )


def templates() -> Environment:
    env = Environment(
        loader=PackageLoader("monitor.web", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["nav"] = NAV
    return env


def guarded(handler: Handler, credentials: Credentials) -> Handler:
    """A state change: refused (403) unless it carries the CSRF token (or a bearer token) and,
    when the browser names one, comes from this server's origin."""

    async def check(request: Request) -> Response:
        headers = request.headers
        if not credentials.is_bearer(headers.get("authorization")):  # checked by GuardMiddleware
            sent = headers.get(CSRF_HEADER)
            if sent is None and "form" in headers.get("content-type", ""):
                sent = str((await request.form()).get(CSRF_FIELD) or "") or None
            if not origin_ok(headers.get("origin"), headers.get("host")):
                return PlainTextResponse("cross-origin request refused\n", status_code=403)
            if not csrf_ok(request.cookies.get(CSRF_COOKIE), sent):
                return PlainTextResponse("CSRF token missing or wrong: reload the page\n", status_code=403)
        return await handler(request)

    return check


class Pages:
    def __init__(self, data: WebData, env: Environment, metrics: Metrics, credentials: Credentials) -> None:
        self.data = data
        self.credentials = credentials
        self.env = env
        self.metrics = metrics
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(_Counters(metrics.registry))
        self.registry.register(StoreCollector(data))

    def routes(self) -> list[BaseRoute]:
        gets: list[tuple[str, Callable[[Request], Awaitable[Response]]]] = [
            ("/", self.home),
            ("/claims", self.claims),
            ("/api/claims", self.claims),
            ("/claims/{claim_id}", self.claim),
            ("/api/claims/{claim_id}", self.claim),
            ("/review", self.review),
            ("/api/review", self.review),
            ("/stories", self.stories),
            ("/api/stories", self.stories),
            ("/items", self.items),
            ("/api/items", self.items),
            ("/sources", self.sources),
            ("/api/sources", self.sources),
            ("/digests", self.digests),
            ("/api/digests", self.digests),
            ("/digests/{digest_id:int}", self.digest),
            ("/api/digests/{digest_id:int}", self.digest),
            ("/digests/{digest_id:int}/email", self.digest_email),
            ("/healthz", self.healthz),
            ("/readyz", self.readyz),
            ("/metrics", self.prometheus),
        ]
        posts = [
            ("/flags/{flag_id:int}/review", self.review_flag),
            ("/api/flags/{flag_id:int}/review", self.review_flag),
        ]
        routes: list[BaseRoute] = [Route(path, h, methods=["GET"]) for path, h in gets]
        routes += [Route(path, guarded(h, self.credentials), methods=["POST"]) for path, h in posts]
        routes.append(Mount("/static", StaticFiles(packages=[("monitor.web", "static")]), name="static"))
        return routes

    # -- rendering

    def page(self, request: Request, name: str, doc: Any, status: int = 200, **extra: Any) -> Response:
        """The JSON twin under /api/, else the page rendered from the same document."""
        if request.url.path.startswith("/api/"):
            return JSONResponse(doc, status_code=status)
        html = self.env.get_template(name).render(
            doc=doc, csrf_token=request.scope["state"]["csrf_token"], path=request.url.path, **extra
        )
        return HTMLResponse(html, status_code=status)

    def missing(self, request: Request, what: str) -> Response:
        return self.page(request, "missing.html", {"error": f"no {what}"}, status=404, what=what)

    # -- pages

    async def home(self, request: Request) -> Response:
        return RedirectResponse("/claims", status_code=303)

    async def claims(self, request: Request) -> Response:
        return self.page(request, "claims.html", await run_in_threadpool(self.data.claims))

    async def claim(self, request: Request) -> Response:
        claim_id = request.path_params["claim_id"]
        doc = await run_in_threadpool(self.data.claim, claim_id)
        return self.missing(request, f"claim {claim_id}") if doc is None else self.page(request, "claim.html", doc)

    async def review(self, request: Request) -> Response:
        return self.page(request, "review.html", await run_in_threadpool(self.data.queue))

    async def review_flag(self, request: Request) -> Response:
        api = request.url.path.startswith("/api/")
        fields: Any = await _json_body(request) if api else await request.form()
        action, note = str(fields.get("action") or ""), fields.get("note")
        if action not in REVIEW_STATES:
            return PlainTextResponse("action must be confirm or dismiss\n", status_code=400)
        flag_id = request.path_params["flag_id"]
        flag = await run_in_threadpool(self.data.review, flag_id, action, None if note is None else str(note))
        if flag is None:
            return self.missing(request, f"flag {flag_id}")
        if api:
            return JSONResponse(flag)
        if request.headers.get("hx-request") == "true":
            html = self.env.get_template("flag.html").render(flag=flag, csrf_token=request.scope["state"]["csrf_token"])
            return HTMLResponse(html)
        return RedirectResponse("/review", status_code=303)

    async def stories(self, request: Request) -> Response:
        return self.page(request, "stories.html", await run_in_threadpool(self.data.stories))

    async def items(self, request: Request) -> Response:
        query = request.query_params.get("q", "")
        doc = await run_in_threadpool(self.data.items, query)
        return self.page(request, "items.html", doc, query=query)

    async def sources(self, request: Request) -> Response:
        return self.page(request, "sources.html", await run_in_threadpool(self.data.sources))

    async def digests(self, request: Request) -> Response:
        return self.page(request, "digests.html", await run_in_threadpool(self.data.digests))

    async def digest(self, request: Request) -> Response:
        digest_id = request.path_params["digest_id"]
        doc = await run_in_threadpool(self.data.digest, digest_id)
        return self.missing(request, f"digest {digest_id}") if doc is None else self.page(request, "digest.html", doc)

    async def digest_email(self, request: Request) -> Response:
        """The e-mail HTML alone, for the digest page's sandboxed frame: its inline styles are
        allowed there, scripts nowhere (the policy has no script source, and sandbox)."""
        digest_id = request.path_params["digest_id"]
        html = await run_in_threadpool(self.data.digest_html, digest_id)
        if html is None:
            return self.missing(request, f"digest {digest_id}")
        return HTMLResponse(html, headers={"content-security-policy": FRAMED_CSP, "x-frame-options": "SAMEORIGIN"})

    # -- operators

    async def healthz(self, request: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def readyz(self, request: Request) -> Response:
        """The verdict of `monitor status --check`: 200 healthy, 503 not (e.g. the service lock lost)."""
        report = await run_in_threadpool(self.data.status)
        body = {"healthy": report.health.ok, "reasons": list(report.health.reasons), "status": status_json(report)}
        return JSONResponse(body, status_code=200 if report.health.ok else 503)

    async def prometheus(self, request: Request) -> Response:
        body = await run_in_threadpool(generate_latest, self.registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class _Counters(Collector):
    """The process's counters (`Metrics`), served with the store's figures by one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.source = registry

    def collect(self) -> Iterator[Metric]:
        yield from self.source.collect()


class StoreCollector(Collector):
    """What the database holds, read at each scrape: so `monitor web`, which polls nothing
    itself, still shows each source's errors in a row and the items stored."""

    def __init__(self, data: WebData) -> None:
        self.data = data

    def describe(self) -> list[Metric]:
        return []  # read lazily at scrape time, never at registration

    def collect(self) -> Iterator[Metric]:
        repo = self.data.repo
        states = repo.source_states([s.id for s in self.data.config.sources])
        errors = GaugeMetricFamily(
            "monitor_source_consecutive_errors", "Failed polls in a row, per source", labels=["source"]
        )
        for state in states:
            errors.add_metric([state.id], state.consecutive_errors)
        yield errors
        yield GaugeMetricFamily("monitor_items_stored", "Items in the database", value=repo.count_items())
