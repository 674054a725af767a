"""Secrets at rest: webhook signing secrets sealed with AES-GCM under a key the store never holds.

The key is 32 random bytes, base64, from ``MESHGATE_SECRET_KEY`` or from the file named by
``MESHGATE_SECRET_KEY_FILE`` (``meshgate webhooks new-key`` prints one). A sealed value is
``v1:<key id>:<base64 of nonce + ciphertext + tag>``; the key id (8 hex digits of the key's SHA-256)
says which key sealed it, so a wrong key is named, not guessed. A value without the prefix is a
plaintext secret of an older release: ``Webhooks.seal_plaintext`` seals those at startup, and
``meshgate webhooks rotate-key`` re-seals every secret under a new key. API tokens are not sealed:
only their SHA-256 is stored.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from registry.errors import InvalidArgument

KEY_ENV = "MESHGATE_SECRET_KEY"
KEY_FILE_ENV = "MESHGATE_SECRET_KEY_FILE"
PREFIX = "v1:"
_NONCE_BYTES = 12


class SecretKeyError(InvalidArgument):
    """The secret key is missing, malformed, or not the key that sealed a value."""


class SecretBox:
    """Seals and opens secrets with one AES-256-GCM key."""

    def __init__(self, key: bytes):
        if len(key) != 32:
            raise SecretKeyError(f"secret key: {len(key)} bytes; expected 32 (base64 of 32 random bytes)")
        self._aead = AESGCM(key)
        self.key_id = hashlib.sha256(key).hexdigest()[:8]

    @classmethod
    def from_text(cls, text: str, where: str = KEY_ENV) -> SecretBox:
        try:
            key = base64.b64decode(text.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise SecretKeyError(f"{where}: not base64 (make one with `meshgate webhooks new-key`)") from None
        return cls(key)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> SecretBox | None:
        """The box of ``MESHGATE_SECRET_KEY`` or ``MESHGATE_SECRET_KEY_FILE``; None when neither is set."""
        if environ.get(KEY_ENV):
            return cls.from_text(environ[KEY_ENV])
        if environ.get(KEY_FILE_ENV):
            path = Path(environ[KEY_FILE_ENV])
            try:
                return cls.from_text(path.read_text(), f"{KEY_FILE_ENV} ({path})")
            except OSError as exc:
                raise SecretKeyError(f"{KEY_FILE_ENV}: cannot read {path}: {exc.strerror}") from None
        return None

    def seal(self, secret: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = nonce + self._aead.encrypt(nonce, secret.encode("utf-8"), PREFIX.encode())
        return f"{PREFIX}{self.key_id}:{base64.b64encode(sealed).decode()}"

    def open(self, stored: str) -> str:
        """The secret of a stored value: sealed by this key, or plaintext of an older release."""
        if not is_sealed(stored):
            return stored
        key_id, _, payload = stored[len(PREFIX) :].partition(":")
        if key_id != self.key_id:
            raise SecretKeyError(f"secret sealed with key {key_id}; the configured key is {self.key_id}")
        raw = base64.b64decode(payload)
        try:
            return self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], PREFIX.encode()).decode("utf-8")
        except InvalidTag:
            raise SecretKeyError(f"secret sealed with key {key_id} does not open: it was altered") from None


def is_sealed(stored: str) -> bool:
    return stored.startswith(PREFIX)


def new_key() -> str:
    """A fresh key, as ``MESHGATE_SECRET_KEY`` takes it."""
    return base64.b64encode(os.urandom(32)).decode()
