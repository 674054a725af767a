"""The console's routes: what each page reads and which template draws it.

Every page needs a signed-in caller (the login page aside); registry calls are synchronous and run
in the thread pool; every POST passes ``Sessions.check_post`` (origin and CSRF) and, when it writes,
``registry.auth.authorize`` (the owning domain or an admin), and is written to the audit log.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import re
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from meshgate.console.diff import findings_at_every_level, findings_of, side_by_side
from meshgate.console.highlight import highlighted_lines, stylesheet
from meshgate.console.lakehouse_pages import LakehousePages
from meshgate.console.lineage import LineagePages
from meshgate.console.location import PREFIX, LakehouseLocation
from meshgate.console.session import CSRF_FIELD, Sessions, may_write, same_origin
from meshgate.console.subjects import SubjectIndex, SubjectQuery
from registry.auth import Access, Principal, authorize
from registry.compat import Level, get_format
from registry.data_contract_diff import metadata_changes, rule_set_changes
from registry.data_contracts import served
from registry.errors import (
    InvalidArgument,
    InvalidSchema,
    MeshgateError,
    PayloadTooLarge,
    PermissionDenied,
    Unauthenticated,
)
from registry.model import EVENT_TYPES, MODES, Event, EventFilter, RegisteredSchema

log = logging.getLogger(__name__)

PAGE_SIZE = 50
WORKER_THREADS = 4
MAX_FORM_BYTES = 4 * 1024 * 1024
CHANGES_SHOWN = 200
RULESETS = ("", "WIRE", "WIRE_JSON")
MAX_SEQUENCE = 2**63 - 1
STATIC = Path(__file__).resolve().parent / "static"

Page = Callable[[Request, Principal], Awaitable[Response]]


def create_console(server: Any, lakehouse: LakehouseLocation) -> Starlette:
    """The console app over a started ``RegistryServer`` (its service, event hub and tokens)."""
    console = Console(server, lakehouse)
    page, post = console.page, console.post
    lake = LakehousePages(console)
    graph = LineagePages(console)
    routes = [
        Route("/", page(console.subjects)),
        Route("/login", console.login_form, methods=["GET"]),
        Route("/login", console.login, methods=["POST"]),
        Route("/logout", console.logout, methods=["POST"]),
        Route("/pygments.css", console.pygments_css),
        Route("/events", page(console.event_stream)),
        Route("/changes", page(console.changes)),
        Route("/diff/{subject:path}", page(console.diff)),
        Route("/try/{subject:path}", post(console.try_change), methods=["POST"]),
        Route("/config/{subject:path}", post(console.set_config, writes=True), methods=["POST"]),
        Route("/mode/{subject:path}", post(console.set_mode, writes=True), methods=["POST"]),
        Route("/subjects/{subject:path}", page(console.subject)),
        Route("/lakehouse", page(lake.overview)),
        Route("/lakehouse/tables/{subject:path}", page(lake.table)),
        Route("/lakehouse/batches/{subject}/{batch_id:path}", page(lake.batch)),
        Route("/lineage", page(graph.lineage)),
        Route("/lineage/models/{unique_id:path}", page(graph.model)),
        Route("/dbt-docs/{name}", page(graph.dbt_docs)),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
    return Starlette(routes=routes)


class Console:
    def __init__(self, server: Any, lakehouse: LakehouseLocation):
        self.service = server.service
        self.hub = server.hub
        self.tokens = server.tokens
        self.auth = server.auth
        self.lakehouse = lakehouse
        self.sessions = Sessions(server.tokens, server.auth)
        self._workers = ThreadPoolExecutor(WORKER_THREADS, thread_name_prefix="console")
        self.index = SubjectIndex(server.service, server.hub.log)
        self.templates = Environment(
            loader=PackageLoader("meshgate.console", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
        )
        self.templates.globals.update(prefix=PREFIX, quote=lambda s: quote(str(s), safe=""))

    # -- plumbing

    def page(self, handler: Page) -> Callable[[Request], Awaitable[Response]]:
        """A GET page: the signed-in caller or the login page; errors as an error page."""

        async def endpoint(request: Request) -> Response:
            principal = await self.sessions.principal(request)
            if principal is None:
                if request.headers.get("accept") == "text/event-stream" or "fragment" in request.query_params:
                    return Response("sign in first", status_code=401)
                target = urlencode(
                    {"next": request.url.path + (f"?{request.url.query}" if request.url.query else "")}
                )
                return RedirectResponse(f"{PREFIX}/login?{target}", status_code=303)
            try:
                return await handler(request, principal)
            except MeshgateError as exc:
                return self.render(
                    request, principal, "error.html", status=exc.http_status, error=exc.message
                )

        return endpoint

    def post(self, handler: Page, writes: bool = False) -> Callable[[Request], Awaitable[Response]]:
        """A form post: origin and CSRF checked, the write authorized and audited."""

        async def endpoint(request: Request) -> Response:
            principal = await self.sessions.principal(request)
            if principal is None:
                return Response("sign in first", status_code=401)
            subject = request.path_params.get("subject", "")
            outcome = "OK"
            try:
                form = await read_form(request)
                self.sessions.check_post(request, form.get(CSRF_FIELD))
                if writes:
                    authorize(principal, Access.WRITE_SUBJECT, subject)
                return await handler(request, principal, form)
            except MeshgateError as exc:
                outcome = type(exc).__name__
                return self.render(
                    request, principal, "error.html", status=exc.http_status, error=exc.message
                )
            finally:
                if writes and self.tokens is not None:
                    await self._audit(request, principal, subject, outcome)

        return endpoint

    async def _audit(self, request: Request, principal: Principal, subject: str, outcome: str) -> None:
        peer = f"{request.client.host}:{request.client.port}" if request.client else ""
        action = f"console {request.url.path.removeprefix(PREFIX).split('/')[1]}"
        try:
            await run_in_threadpool(self.tokens.record, principal, action, subject, peer, outcome)
        except Exception as exc:  # an audit failure must not hide the call's own outcome
            log.error("audit log write failed for %s: %s", action, exc)

    def render(
        self, request: Request, principal: Principal | None, template: str, status: int = 200, **values
    ) -> HTMLResponse:
        html = self.templates.get_template(template).render(
            request=request,
            principal=principal,
            auth=self.auth,
            csrf=self.sessions.csrf_token(request),
            **values,
        )
        return HTMLResponse(html, status_code=status)

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a synchronous call in the console's few worker threads: each thread that reads a
        version keeps one store connection (``Store.subject_seq``), so their number stays small."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._workers, functools.partial(fn, *args, **kwargs))

    # -- sign in

    async def login_form(self, request: Request) -> Response:
        if not self.auth:
            return RedirectResponse(f"{PREFIX}/", status_code=303)
        return self.render(request, None, "login.html", next=_local(request.query_params.get("next")))

    async def login(self, request: Request) -> Response:
        form = await read_form(request)
        target = _local(form.get("next"))
        if not self.auth:
            return RedirectResponse(target, status_code=303)
        try:
            if not same_origin(request):
                raise PermissionDenied("cross-site sign-in refused")
            await self.sessions.login(str(form.get("token", "")))
        except (Unauthenticated, PermissionDenied) as exc:
            return self.render(
                request, None, "login.html", status=exc.http_status, next=target, error=exc.message
            )
        response = RedirectResponse(target, status_code=303)
        self.sessions.set_cookie(response, str(form["token"]), request.url.scheme == "https")
        return response

    async def logout(self, request: Request) -> Response:
        response = RedirectResponse(f"{PREFIX}/login", status_code=303)
        self.sessions.clear_cookie(response)
        return response

    async def pygments_css(self, request: Request) -> Response:
        return Response(stylesheet(), media_type="text/css")

    # -- subjects

    async def subjects(self, request: Request, principal: Principal) -> Response:
        params = request.query_params
        query = SubjectQuery(
            search=params.get("q", "").strip(),
            domain=params.get("domain", ""),
            format=params.get("format", ""),
            level=params.get("level", ""),
            mode=params.get("mode", ""),
        )
        page_number = max(1, _int(params.get("page"), 1))
        found = await self.call(self.index.page, query, (page_number - 1) * PAGE_SIZE, PAGE_SIZE)
        pages = max(1, -(-found.total // PAGE_SIZE))
        values = dict(
            query=query,
            found=found,
            page_number=page_number,
            pages=pages,
            formats=("AVRO", "PROTOBUF"),
            levels=[level.value for level in Level],
            modes=MODES,
            query_string=urlencode({k: v for k, v in params.items() if k not in ("page", "fragment")}),
            after=await self._position(),
        )
        template = "_subject_rows.html" if "fragment" in params else "subjects.html"
        return self.render(request, principal, template, **values)

    async def subject(self, request: Request, principal: Principal) -> Response:
        subject = request.path_params["subject"]
        versions = await self.call(self.service.list_versions, subject)
        wanted = _int(request.query_params.get("version"), versions[-1])
        shown = await self.call(self.service.get_version, subject, wanted)
        consumers = await self.call(self.service.list_consumers, subject)
        config = await self.call(self.service.get_config, subject)
        mode = await self.call(self.service.get_mode, subject)
        read_lines = _lines_naming(shown.schema, [f for c in consumers for f in c.fields])
        return self.render(
            request,
            principal,
            "subject.html",
            subject=subject,
            versions=versions,
            shown=shown,
            lines=highlighted_lines(shown.schema, shown.format),
            read_lines=read_lines,
            consumers=consumers,
            config=config,
            mode=mode,
            levels=[level.value for level in Level],
            rulesets=RULESETS,
            modes=MODES,
            can_write=may_write(principal, subject),
            after=await self._position(),
        )

    async def diff(self, request: Request, principal: Principal) -> Response:
        subject = request.path_params["subject"]
        versions = await self.call(self.service.list_versions, subject)
        old_number = _int(request.query_params.get("from"), versions[0])
        new_number = _int(request.query_params.get("to"), versions[-1])
        old = await self.call(self.service.get_version, subject, old_number)
        new = await self.call(self.service.get_version, subject, new_number)
        config = await self.call(self.service.get_config, subject)
        earlier = [v for v in versions if v <= old.version]
        findings = await self.call(self._findings, subject, new, earlier, config)
        return self.render(
            request,
            principal,
            "diff.html",
            subject=subject,
            versions=versions,
            old=old,
            new=new,
            config=config,
            findings=findings,
            levels_found=[level.value for level in Level if any(level.value in f.levels for f in findings)],
            unplaced=[f for f in findings if not f.line],
            rule_changes=_data_contract_changes(old, new),
            rows=side_by_side(
                old.schema,
                new.schema,
                highlighted_lines(old.schema, old.format),
                highlighted_lines(new.schema, new.format),
                findings,
            ),
        )

    def _findings(self, subject: str, new: RegisteredSchema, earlier: list[int], config: Any) -> list:
        """Findings of ``new`` against the ``earlier`` versions at every level (worker thread)."""
        schema_format = get_format(new.format)
        previous = [self._parsed(self.service.get_version(subject, v)) for v in earlier if v != new.version]
        return findings_at_every_level(
            schema_format, config.level, config.ruleset, self._parsed(new), previous
        )

    def _parsed(self, registered: RegisteredSchema):
        return get_format(registered.format).parse(
            registered.schema, self._reference_texts(registered), source_name=f"v{registered.version}"
        )

    def _reference_texts(self, registered: RegisteredSchema) -> dict[str, str]:
        texts: dict[str, str] = {}
        pending = list(registered.references)
        while pending:
            ref = pending.pop()
            if ref.name not in texts:
                found = self.service.get_version(ref.subject, ref.version)
                texts[ref.name] = found.schema
                pending.extend(found.references)
        return texts

    async def try_change(self, request: Request, principal: Principal, form: Any) -> Response:
        """A candidate schema's verdict against the history and every consumer, before registering:
        what ``register`` would decide (the subject's level, then each registered consumer)."""
        subject = request.path_params["subject"]
        candidate = str(form.get("schema", ""))
        latest = await self.call(self.service.get_version, subject)
        consumers = await self.call(self.service.list_consumers, subject)
        values = dict(subject=subject, latest=latest, candidate=candidate, consumers=consumers)
        try:
            result = await self.call(self.service.check, subject, candidate, latest.format, (), "latest")
        except InvalidSchema as exc:
            return self.render(request, principal, "try.html", status=422, error=exc.message, **values)
        findings = findings_of(result.violations, get_format(latest.format))
        rows = side_by_side(
            latest.schema,
            candidate,
            highlighted_lines(latest.schema, latest.format),
            highlighted_lines(candidate, latest.format),
            findings,
        )
        return self.render(
            request,
            principal,
            "try.html",
            result=result,
            findings=findings,
            unplaced=[f for f in findings if not f.line],
            rows=rows,
            **values,
        )

    async def set_config(self, request: Request, principal: Principal, form: Any) -> Response:
        subject = request.path_params["subject"]
        ruleset = str(form.get("ruleset", "")) or None
        await self.call(self.service.set_config, subject, str(form.get("level", "")), ruleset)
        return RedirectResponse(f"{PREFIX}/subjects/{quote(subject, safe='')}?saved=config", status_code=303)

    async def set_mode(self, request: Request, principal: Principal, form: Any) -> Response:
        subject = request.path_params["subject"]
        await self.call(self.service.set_mode, subject, str(form.get("mode", "")))
        return RedirectResponse(f"{PREFIX}/subjects/{quote(subject, safe='')}?saved=mode", status_code=303)

    # -- changes

    async def changes(self, request: Request, principal: Principal) -> Response:
        where, subject = _event_filter(request)
        first, last = await self.call(self.hub.log.bounds)
        start = max(first, last - CHANGES_SHOWN * 5)
        events = [
            e
            for e in await self.call(self.hub.log.read, start, CHANGES_SHOWN * 5, where)
            if _keeps(e, subject)
        ]
        return self.render(
            request,
            principal,
            "changes.html",
            events=list(reversed(events))[:CHANGES_SHOWN],
            event_types=EVENT_TYPES,
            params=request.query_params,
            after=last,
        )

    async def event_stream(self, request: Request, principal: Principal) -> Response:
        """Server-Sent Events: every change after ``after`` that matches the filters, as JSON."""
        where, subject = _event_filter(request)
        after = _int(request.query_params.get("after"), None)
        if after is None:
            after = await self._position()
        elif not 0 <= after <= MAX_SEQUENCE:  # checked before the 200: the store holds 64-bit sequences
            raise InvalidArgument(f"after: a sequence number from 0 to {MAX_SEQUENCE} is expected")
        recheck = (lambda: self.call(self.tokens.revalidate, principal)) if self.auth else None

        async def events():
            yield "retry: 2000\n\n"
            try:
                async for event in self.hub.stream(where, after, recheck):
                    if await request.is_disconnected():
                        return
                    if event is None:
                        yield ": heartbeat\n\n"
                    elif _keeps(event, subject):
                        yield f"id: {event.sequence}\nevent: change\ndata: {json.dumps(event.to_dict())}\n\n"
            except (MeshgateError, asyncio.CancelledError):
                return

        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        return StreamingResponse(events(), media_type="text/event-stream", headers=headers)

    async def _position(self) -> int:
        return (await self.call(self.hub.log.bounds))[1]


async def read_form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (what the console's forms post), first values;
    refused past ``MAX_FORM_BYTES`` (a schema is at most 1 MiB)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise PayloadTooLarge(f"form: more than {MAX_FORM_BYTES} bytes")
    return {key: values[0] for key, values in parse_qs(body.decode("utf-8", "replace")).items()}


def _event_filter(request: Request) -> tuple[EventFilter, str]:
    params = request.query_params
    subject = params.get("subject", "").strip()
    domain = params.get("domain", "").strip()
    types = frozenset(t for t in params.getlist("type") if t in EVENT_TYPES)
    prefix = subject or (f"{domain}." if domain else "")
    return EventFilter(prefix, types), subject


def _keeps(event: Event, subject: str) -> bool:
    return not subject or event.subject == subject


def _lines_naming(text: str, fields: list[str]) -> set[int]:
    """Lines of ``text`` (1-based) that name the last part of one of ``fields`` as a whole word."""
    names = {field.replace("[]", "").split(".")[-1] for field in fields if field}
    if not names:
        return set()
    pattern = re.compile(r"(?<![\w])(" + "|".join(re.escape(n) for n in sorted(names)) + r")(?![\w])")
    return {number for number, line in enumerate(text.splitlines(), 1) if pattern.search(line)}


def _local(target: Any) -> str:
    """A redirect target inside the console only (no open redirect)."""
    text = str(target or "")
    if text.startswith(PREFIX + "/") and not text.startswith("//"):
        return text
    return f"{PREFIX}/"


def _data_contract_changes(old: RegisteredSchema, new: RegisteredSchema) -> list:
    """The Confluent rules and metadata the two versions serve, compared (notes and warnings)."""
    old_metadata, old_rules = served(old.subject, old.metadata, old.data_metadata, old.rule_set)
    new_metadata, new_rules = served(new.subject, new.metadata, new.data_metadata, new.rule_set)
    return rule_set_changes(old_rules, new_rules) + metadata_changes(old_metadata, new_metadata)


def _int(text: str | None, default: Any) -> Any:
    try:
        return int(text) if text is not None and text != "" else default
    except ValueError:
        return default
