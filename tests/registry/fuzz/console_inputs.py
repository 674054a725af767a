"""The web console (``/ui``) under fuzz: hostile paths, query strings, form bodies, cookies and headers
against a registry with auth on and the console mounted, as ``meshgate serve`` runs it.

Paths carry percent-escapes (``%FF``, ``%00``, an escaped lone surrogate), ``../``, overlong names;
forms are the login form, try-a-change and the config and mode writes, with and without a valid
CSRF token and a valid cookie. The property: no 5xx and no traceback in a page, and a write that was
not accepted (anything but the 303 back to the subject page) changes nothing: the event log, where
every config and mode change lands, does not move.
"""

from __future__ import annotations

import logging
import re
import string
from dataclasses import dataclass
from urllib.parse import quote, urlencode

import httpx
from hypothesis import strategies as st

from tests.registry.fuzz.targets import CHECKS as TARGET_CHECKS
from tests.registry.fuzz.targets import hostile_text, path_parts, schema_texts
from tests.registry.registry_harness import V1

SUBJECT = "fuzz.Console"
PAGES = [
    ("GET", "/ui/"),
    ("GET", "/ui/login"),
    ("GET", "/ui/changes"),
    ("GET", "/ui/events"),
    ("GET", "/ui/pygments.css"),
    ("GET", "/ui/subjects/{s}"),
    ("GET", "/ui/diff/{s}"),
    ("GET", "/ui/lakehouse"),
    ("GET", "/ui/lakehouse/tables/{s}"),
    ("GET", "/ui/lakehouse/batches/{s}/{t}"),
    ("GET", "/ui/lineage"),
    ("GET", "/ui/lineage/models/{s}"),
    ("GET", "/ui/dbt-docs/{s}"),
    ("GET", "/ui/static/{s}"),
    ("GET", "/ui/{s}"),
    ("POST", "/ui/login"),
    ("POST", "/ui/logout"),
    ("POST", "/ui/try/{s}"),
    ("POST", "/ui/config/{s}"),
    ("POST", "/ui/mode/{s}"),
]
STREAM_TIMEOUT = httpx.Timeout(30, read=1.0)  # an event stream is read until quiet this long

_header_text = st.text(string.printable.strip("\r\n\x0b\x0c") + "\t", max_size=60).map(str.strip)
"""What an HTTP header value can carry on the wire (h11 refuses line breaks and edge whitespace)."""
parts = st.one_of(
    st.just(SUBJECT),
    path_parts,
    st.sampled_from(
        ["../../etc/passwd", "%2e%2e%2f%2e%2e%2f", "..%2F..%2F", "x" * 5000, "%ED%A0%80", "%5Cud800"]
    ),
    hostile_text.map(lambda t: quote(t, safe="", errors="surrogatepass")),
)
query_names = (
    st.sampled_from(
        [
            "q",
            "domain",
            "format",
            "level",
            "mode",
            "page",
            "fragment",
            "version",
            "from",
            "to",
            "after",
            "subject",
        ]
        + ["type", "next", "saved"]
    )
    | hostile_text
)
"""The console pages' own parameters (and any other)."""
query_values = st.one_of(
    hostile_text,
    st.sampled_from(["1", "0", "-1", "99999999999999999999", "1e3", "AVRO", "FULL", "VERSION_REGISTERED"]),
    st.integers().map(str),
)
form_values = st.one_of(
    st.sampled_from(["NONE", "FULL", "BACKWARD", "READONLY", "READWRITE", "WIRE", "", "/ui/", "//evil"]),
    hostile_text,
    schema_texts,
)
forms = st.one_of(
    st.dictionaries(
        st.sampled_from(["token", "next", "schema", "level", "ruleset", "mode", "csrf"]) | hostile_text,
        form_values,
        max_size=5,
    ).map(lambda form: urlencode(form, errors="surrogatepass").encode()),
    st.binary(max_size=200),
)
_hostile_requests = st.fixed_dictionaries(
    {
        "route": st.sampled_from(PAGES),
        "first": parts,
        "second": parts,
        "query": st.lists(st.tuples(query_names, query_values), max_size=3),
        "form": forms,
        "cookie": st.sampled_from(["admin", "producer", "none", "wrong"]) | _header_text,
        "csrf": st.sampled_from(["valid", "missing", "wrong"]),
        "login_token": st.sampled_from(["admin", "wrong", "none"]),
        "origin": st.sampled_from([None, "same", "http://evil.example"]) | _header_text,
        "headers": st.dictionaries(
            st.sampled_from(["accept", "content-type", "host", "x-forwarded-for", "referer"]),
            _header_text | st.just("text/event-stream"),
            max_size=3,
        ),
    }
)
_valid_forms = st.fixed_dictionaries(
    {
        "level": st.sampled_from(["NONE", "FULL", "BACKWARD", "nope"]),
        "ruleset": st.sampled_from(["", "WIRE", "WIRE_JSON", "nope"]),
        "mode": st.sampled_from(["READWRITE", "READONLY", "nope"]),
    },
    optional={"schema": schema_texts},
).map(lambda form: urlencode(form, errors="surrogatepass").encode())
_plausible_requests = st.fixed_dictionaries(
    {
        "route": st.sampled_from([r for r in PAGES if r[0] == "POST"]),
        "first": st.sampled_from([SUBJECT, "fuzz.Other", "checkout.Order", ""]),
        "second": st.just(""),
        "query": st.just([]),
        "form": _valid_forms,
        "cookie": st.sampled_from(["admin", "producer"]),
        "csrf": st.sampled_from(["valid", "valid", "missing", "wrong"]),
        "login_token": st.sampled_from(["admin", "wrong", "none"]),
        "origin": st.sampled_from([None, "same", "http://evil.example"]),
        "headers": st.just({}),
    }
)
"""Requests a signed-in browser could send: the writes' own forms, so accepted writes are fuzzed too."""
console_requests = st.one_of(_hostile_requests, _plausible_requests)


class ServerErrors(logging.Handler):
    """Error records with a traceback that the server's loggers emit (an exception in a page or in
    the event stream after its 200 is logged by uvicorn, not answered)."""

    LOGGERS = ("uvicorn.error", "meshgate", "registry", "starlette")

    def __init__(self):
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []
        for name in self.LOGGERS:
            logging.getLogger(name).addHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.records.append(record)

    def close(self) -> None:
        for name in self.LOGGERS:
            logging.getLogger(name).removeHandler(self)
        super().close()


@dataclass
class ConsoleSite:
    """A registry with auth on and the console: its server, two tokens, their CSRF tokens, a client
    and the server's error records."""

    server: object
    secrets: dict[str, str]
    csrf: dict[str, str]
    http: httpx.Client
    errors: ServerErrors

    @classmethod
    def start(cls, server) -> ConsoleSite:
        secrets = {
            "admin": server.tokens.create("fuzz-admin", "admin", ())[1],
            "producer": server.tokens.create("fuzz-producer", "producer", ("fuzz",))[1],
        }
        http = httpx.Client(base_url=server.http_url, timeout=30)
        response = http.post(
            f"/subjects/{SUBJECT}/versions",
            json={"schema": V1},
            headers={"Authorization": f"Bearer {secrets['admin']}"},
        )
        assert response.status_code == 200, response.text
        csrf = {}
        for who, secret in secrets.items():
            page = http.get(f"/ui/subjects/{SUBJECT}", headers={"cookie": f"meshgate_console={secret}"})
            csrf[who] = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text).group(1)
        return cls(server, secrets, csrf, http, ServerErrors())

    def close(self) -> None:
        self.http.close()
        self.errors.close()

    def last_event(self) -> int:
        return self.server.hub.log.bounds()[1]


def check_console(targets, value: dict) -> None:
    site: ConsoleSite = targets.console
    method, template = value["route"]
    path = template.replace("{s}", value["first"]).replace("{t}", value["second"])
    who = value["cookie"]
    cookie = site.secrets.get(who, "mgt_not-a-token" if who == "wrong" else who)
    headers = dict(value["headers"])
    if cookie and who != "none":
        headers["cookie"] = f"meshgate_console={cookie}"
    origin = value["origin"]
    if origin is not None:
        headers["origin"] = site.server.http_url if origin == "same" else origin
    body = None
    if method == "POST":
        body = value["form"]
        extra = {}
        if value["csrf"] != "missing":
            extra["csrf"] = site.csrf.get(who, "0" * 64) if value["csrf"] == "valid" else "f" * 64
        if path == "/ui/login" and value["login_token"] != "none":
            extra["token"] = site.secrets["admin"] if value["login_token"] == "admin" else "mgt_wrong"
        if extra:
            body = (body + b"&" if body else b"") + urlencode(extra).encode()
        headers.setdefault("content-type", "application/x-www-form-urlencoded")
    before = site.last_event()
    with site.http.stream(
        method,
        path,
        params=list(value["query"]),
        content=body,
        headers=headers,
        timeout=STREAM_TIMEOUT if path.startswith("/ui/events") else site.http.timeout,
    ) as response:
        text = _stream_start(response) if _is_stream(response) else response.read().decode("utf-8", "replace")
    assert response.status_code < 500, (method, path, response.status_code, text[:2000])
    assert "Traceback (most recent call last)" not in text, (method, path, text[:2000])
    assert not site.errors.records, [r.getMessage() for r in site.errors.records]
    accepted = response.status_code == 303 and "saved=" in response.headers.get("location", "")
    if method == "POST" and not accepted:
        assert site.last_event() == before, ("a refused write changed the registry", method, path)


def _is_stream(response: httpx.Response) -> bool:
    return "event-stream" in response.headers.get("content-type", "")


def _stream_start(response: httpx.Response) -> str:
    """What an event stream sends until it is quiet for a moment (or the server ends it: a server
    error after the 200 ends the body early, and the server logs it)."""
    received = []
    try:
        for chunk in response.iter_text():
            received.append(chunk)
    except (httpx.ReadTimeout, httpx.RemoteProtocolError):
        pass
    return "".join(received)


CHECKS = {**TARGET_CHECKS, "console": (console_requests, check_console)}
"""Every entry point under fuzz: targets.py's, and the web console (``targets.console`` is the site)."""
