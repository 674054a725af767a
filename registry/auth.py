"""Domain-owned access control: API tokens, roles, the rules, and the audit log.

Tokens are ``mgt_`` + 32 random bytes (URL-safe base64). Only their SHA-256 is stored: a fast hash is
enough for a secret with 256 bits of entropy (nothing to brute-force, unlike a password), and it
lets a request find its token with one indexed lookup. The secret is shown once, at creation.

Roles:
- ``admin``: everything, including tokens and the audit log;
- ``producer``: reads everything; writes (register, delete, config, mode) subjects of its own domains
  only (a subject's domain is its part before the first dot); registers consumers named after them;
- ``consumer``: reads, checks, watches; registers (and removes) itself as a consumer: a consumer
  named after one of its domains (``billing`` or ``billing.reports`` for the domain ``billing``).
Global config and mode (no subject) are admin only.

Writes and refusals are audited synchronously (a write's row in the write's own transaction). Allowed
reads, with auth on, are audited too, but off their path: ``ReadAudit`` queues their rows in memory
and one thread writes them in batches; a full queue or a down store drops rows (counted), never a read.
"""

from __future__ import annotations

import base64
import binascii
import collections
import contextlib
import hashlib
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum

from registry.contract import domain_of
from registry.errors import InvalidArgument, PermissionDenied, TokenNotFound, Unauthenticated
from registry.model import ROLES, ApiToken, AuditEntry
from registry.store import PENDING_AUDIT, PendingAudit, Store

log = logging.getLogger(__name__)

TOKEN_PREFIX = "mgt_"
_DOMAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


class Access(Enum):
    """What a call needs."""

    OPEN = "open"  # health, metrics, reflection
    READ = "read"
    WRITE_SUBJECT = "write-subject"  # a write to the request's subject (global when none)
    CONSUMER = "consumer"  # register/remove a consumer of the request's subject
    ADMIN = "admin"


@dataclass(frozen=True)
class Principal:
    """Who is calling: a token, or ``ANONYMOUS`` when auth is off."""

    token_id: int | None
    name: str
    role: str
    domains: tuple[str, ...] = ()

    def describe(self) -> str:
        scope = f" of {', '.join(self.domains)}" if self.domains else ""
        return f"token {self.name!r} ({self.role}{scope})"


ANONYMOUS = Principal(None, "anonymous (auth off)", "admin")


def authorize(principal: Principal, access: Access, subject: str = "", consumer: str = "") -> None:
    """Raise ``PermissionDenied`` (with the reason) unless ``principal`` may do this."""
    if access in (Access.OPEN, Access.READ) or principal.role == "admin":
        return
    if access is Access.ADMIN:
        raise PermissionDenied(
            f"{principal.describe()} may not manage tokens or read the audit log: admin only"
        )
    if access is Access.WRITE_SUBJECT:
        if not subject:
            raise PermissionDenied(
                f"{principal.describe()} may not change the global config or mode: admin only"
            )
        if principal.role != "producer":
            raise PermissionDenied(
                f"{principal.describe()} may not write subject {subject!r}: consumers only read"
            )
        if domain_of(subject) not in principal.domains:
            raise PermissionDenied(
                f"{principal.describe()} may not write subject {subject!r}: it belongs to domain "
                f"{domain_of(subject)!r}"
            )
        return
    if access is Access.CONSUMER and domain_of(consumer) not in principal.domains:
        raise PermissionDenied(
            f"{principal.describe()} may not register or remove consumer {consumer!r}: a token acts only "
            f"as consumers named after its domains"
        )


def secret_from_header(value: str | None) -> str | None:
    """The token in an ``authorization`` value: ``Bearer <token>``, or HTTP Basic with the token as
    the password (Confluent's ``basic.auth.user.info`` = ``token:<token>``; any user name)."""
    if not value:
        return None
    scheme, _, credentials = value.strip().partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthenticated("authorization: Basic credentials are not valid base64") from None
        _, colon, password = decoded.partition(":")
        if colon and password:
            return password
        raise Unauthenticated("authorization: Basic credentials need the token as the password")
    raise Unauthenticated("authorization: expected 'Bearer <token>' or Basic credentials")


class Tokens:
    """API tokens and the audit log in the registry store."""

    def __init__(self, store: Store):
        self.store = store
        self.reads: ReadAudit | None = None  # set (by the server) when reads are audited: auth on

    def create(
        self,
        name: str,
        role: str,
        domains: tuple[str, ...] | list[str] = (),
        expires_in: timedelta | None = None,
        created_by: str = "",
    ) -> tuple[ApiToken, str]:
        """A new token and its secret (shown once: only its hash is kept)."""
        if not name or not name.strip():
            raise InvalidArgument("token name: required")
        if role not in ROLES:
            raise InvalidArgument(f"role: {role!r} is not one of {', '.join(ROLES)}")
        domains = tuple(domains)
        for domain in domains:
            if not _DOMAIN.match(domain):
                raise InvalidArgument(f"domain: {domain!r} is not a domain name (letters, digits, _ and -)")
        if role != "admin" and not domains:
            raise InvalidArgument(f"domain: a {role} token needs at least one --domain")
        if expires_in is not None and expires_in <= timedelta(0):
            raise InvalidArgument("expires in: must be positive")
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        expires_at = now + expires_in if expires_in else None
        token = self.store.write(
            lambda session: self.store.add_token(
                session, name.strip(), _hash(secret), role, domains, now, created_by, expires_at
            )
        )
        return token, secret

    def authenticate(self, secret: str | None) -> Principal:
        if not secret:
            raise Unauthenticated("no token: send 'authorization: Bearer <token>' (or Basic auth)")
        with self.store.read() as session:
            token = self.store.token_by_hash(session, _hash(secret))
        if token is None:
            raise Unauthenticated("unknown token")
        _refuse_if_dead(token)
        return Principal(token.id, token.name, token.role, token.domains)

    def revalidate(self, principal: Principal) -> None:
        """Raise ``Unauthenticated`` if ``principal``'s token was revoked or expired since it was
        authenticated: long calls (Watch streams) re-run this, a primary-key lookup, now and then.
        ``ANONYMOUS`` (auth off) has no token and always passes."""
        if principal.token_id is None:
            return
        with self.store.read() as session:
            token = self.store.token(session, principal.token_id)
        if token is None:
            raise Unauthenticated(f"token {principal.name!r} (id {principal.token_id}) no longer exists")
        _refuse_if_dead(token)

    def revoke(self, token_id: int) -> ApiToken:
        def work(session) -> ApiToken:
            token = self.store.revoke_token(session, token_id, datetime.now(UTC))
            if token is None:
                raise TokenNotFound(f"token id {token_id} not found")
            return token

        return self.store.write(work)

    def list(self, include_revoked: bool = False) -> list[ApiToken]:
        with self.store.read() as session:
            return self.store.tokens(session, include_revoked)

    @contextlib.contextmanager
    def auditing(self, principal: Principal, action: str, target: str, peer: str) -> Iterator[PendingAudit]:
        """Within it, the first write committed records the call (outcome ok) in its own transaction;
        if none did (``written`` stays False), the caller records the outcome with ``record``."""
        pending = PendingAudit(principal.token_id, principal.name, principal.role, action, target, peer)
        reset = PENDING_AUDIT.set(pending)
        try:
            yield pending
        finally:
            PENDING_AUDIT.reset(reset)

    def record(self, principal: Principal | None, action: str, target: str, peer: str, outcome: str) -> None:
        """Add one line to the audit log (``principal`` None: the caller had no valid token)."""
        if principal is None:
            self._write_row(None, "(unauthenticated)", "", action, target, peer, outcome)
        else:
            self._write_row(principal.token_id, principal.name, principal.role, action, target, peer, outcome)

    def record_failure(self, outcome: str) -> None:
        """The call in progress (``auditing``) failed: record it now, before its status goes out.

        gRPC's ``abort`` sends the status at once; a row written after it could commit after the
        client's next call had been audited, out of order."""
        pending = PENDING_AUDIT.get()
        if pending is None or pending.written:
            return
        self._write_row(
            pending.token_id,
            pending.token_name,
            pending.role,
            pending.action,
            pending.target,
            pending.peer,
            outcome,
        )
        pending.written = True

    def _write_row(self, token_id, token_name, role, action, target, peer, outcome) -> None:
        PENDING_AUDIT.set(None)  # this write is the record itself (runs in a worker thread's context)
        self.store.write(
            lambda session: self.store.add_audit_entry(
                session,
                time=datetime.now(UTC),
                token_id=token_id,
                token_name=token_name,
                role=role,
                action=action,
                target=target[:255],
                peer=peer[:255],
                outcome=outcome,
            )
        )

    def record_read(self, principal: Principal, action: str, target: str, peer: str, outcome: str) -> None:
        """Queue the audit line of an allowed read (no-op unless reads are audited); never blocks."""
        if self.reads is not None:
            self.reads.add(principal, action, target, peer, outcome)

    def audit(self, limit: int = 100) -> list[AuditEntry]:
        with self.store.read() as session:
            return self.store.audit_entries(session, max(1, min(limit, 10_000)))


class ReadAudit:
    """Allowed reads' audit rows: queued in memory (at most ``capacity``), written by one thread every
    ``interval`` seconds in transactions of up to ``batch`` rows, so a read never waits on a store
    write. Rows that find the queue full or the store down are dropped and passed to ``on_dropped``
    (a metric), with one warning per ``log_interval``. ``stop`` writes what is still queued."""

    def __init__(
        self,
        store: Store,
        on_dropped: Callable[[int], None],
        capacity: int = 10_000,
        interval: float = 0.2,
        batch: int = 500,
        log_interval: float = 10.0,
    ):
        self.store = store
        self.on_dropped = on_dropped
        self.capacity = capacity
        self.interval = interval
        self.batch = batch
        self.log_interval = log_interval
        self._queue: collections.deque[dict] = collections.deque()  # append/popleft are thread-safe
        self._writing = threading.Lock()  # one writer at a time: ``flush`` returns after a running batch
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audit-reads", daemon=True)
        self._dropped_unlogged = 0
        self._last_log = 0.0

    def start(self) -> None:
        self._thread.start()

    def add(self, principal: Principal, action: str, target: str, peer: str, outcome: str) -> None:
        if len(self._queue) >= self.capacity:
            self._drop(1, "the queue is full")
            return
        self._queue.append(
            {
                "time": datetime.now(UTC),
                "token_id": principal.token_id,
                "token_name": principal.name,
                "role": principal.role,
                "action": action,
                "target": target[:255],
                "peer": peer[:255],
                "outcome": outcome,
            }
        )

    def flush(self) -> None:
        """Write every row queued before this call (the thread does it every ``interval``)."""
        with self._writing:
            while self._queue:
                rows = [self._queue.popleft() for _ in range(min(self.batch, len(self._queue)))]
                try:
                    self.store.write(lambda session, rows=rows: self.store.add_audit_entries(session, rows))
                except Exception as exc:  # the store is down: the reads stand, their rows are lost
                    self._drop(len(rows), f"the store failed ({exc})")

    def stop(self) -> None:
        """Stop the thread, then write what is queued (call once no more reads arrive)."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()
        self.flush()

    def _run(self) -> None:
        while not self._stopping.wait(self.interval):
            self.flush()

    def _drop(self, count: int, why: str) -> None:
        self.on_dropped(count)
        self._dropped_unlogged += count
        now = time.monotonic()
        if now - self._last_log >= self.log_interval:
            log.warning("audit log: dropped %d read row(s): %s", self._dropped_unlogged, why)
            self._dropped_unlogged, self._last_log = 0, now


def parse_duration(text: str) -> timedelta:
    """``30d``, ``12h``, ``15m`` or ``3600s`` as a ``timedelta``."""
    match = re.fullmatch(r"\s*(\d+)\s*([smhdw])\s*", text or "")
    if not match:
        raise InvalidArgument(f"duration {text!r}: expected a number and a unit s, m, h, d or w (e.g. 30d)")
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[match.group(2)]
    try:
        return timedelta(**{unit: int(match.group(1))})
    except OverflowError:
        raise InvalidArgument(f"duration {text!r}: too long") from None


def _refuse_if_dead(token: ApiToken) -> None:
    if token.revoked_at is not None:
        raise Unauthenticated(
            f"token {token.name!r} (id {token.id}) was revoked at {token.revoked_at:%Y-%m-%d %H:%M:%S} UTC"
        )
    if token.expires_at is not None and token.expires_at <= datetime.now(UTC):
        raise Unauthenticated(
            f"token {token.name!r} (id {token.id}) expired at {token.expires_at:%Y-%m-%d %H:%M:%S} UTC"
        )


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()
