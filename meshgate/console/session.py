"""Who is looking: the API token in an HttpOnly, SameSite=Strict cookie, and CSRF tokens for forms.

The cookie holds the token itself, checked with ``registry.auth.Tokens`` on every request, so a
revoked token stops working at once. Every form that writes carries a CSRF token, an HMAC of the
cookie under a key made at start-up, and its request must come from this origin when the browser
says where it came from (``Origin``). With auth off everyone is ``ANONYMOUS`` (an admin), the forms
still carry a CSRF token (of the empty session), so another site cannot post them either.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from registry.auth import ANONYMOUS, Access, Principal, Tokens, authorize
from registry.errors import PermissionDenied, Unauthenticated

COOKIE = "meshgate_console"
CSRF_FIELD = "csrf"


class Sessions:
    def __init__(self, tokens: Tokens | None, auth: bool):
        self.tokens = tokens
        self.auth = auth
        self._key = secrets.token_bytes(32)

    async def principal(self, request: Request) -> Principal | None:
        """The caller, or None when auth is on and the cookie holds no valid token."""
        if not self.auth:
            return ANONYMOUS
        secret = request.cookies.get(COOKIE)
        if not secret:
            return None
        try:
            return await run_in_threadpool(self.tokens.authenticate, secret)
        except Unauthenticated:
            return None

    async def login(self, secret: str) -> Principal:
        """The token's principal; raises ``Unauthenticated`` for an unknown, revoked or expired one."""
        return await run_in_threadpool(self.tokens.authenticate, secret.strip())

    def set_cookie(self, response: Response, secret: str, secure: bool) -> None:
        response.set_cookie(
            COOKIE, secret.strip(), httponly=True, samesite="strict", secure=secure, path="/ui"
        )

    def clear_cookie(self, response: Response) -> None:
        response.delete_cookie(COOKIE, path="/ui", httponly=True, samesite="strict")

    def csrf_token(self, request: Request) -> str:
        session = request.cookies.get(COOKIE, "") if self.auth else ""
        return hmac.new(self._key, session.encode(), hashlib.sha256).hexdigest()

    def check_post(self, request: Request, form_csrf: str | None) -> None:
        """Refuse a write from another origin or without this session's CSRF token."""
        if not same_origin(request):
            raise PermissionDenied("cross-site request refused: the form was not posted from this console")
        # compared as bytes: compare_digest raises TypeError for text that is not ASCII
        sent, expected = (form_csrf or "").encode("utf-8", "replace"), self.csrf_token(request).encode()
        if not sent or not hmac.compare_digest(sent, expected):
            raise PermissionDenied("CSRF token missing or wrong: reload the page and try again")


def same_origin(request: Request) -> bool:
    """Whether the request's ``Origin`` (when the browser sends one) is this server."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return urlsplit(origin).netloc == request.headers.get("host", "")


def may_write(principal: Principal, subject: str) -> bool:
    """Whether ``principal`` may change ``subject``'s configuration (the owning domain or an admin)."""
    try:
        authorize(principal, Access.WRITE_SUBJECT, subject)
    except PermissionDenied:
        return False
    return True
