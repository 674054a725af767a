"""A Watch subscriber in a background thread that collects what it receives (watch tests, auth)."""

from __future__ import annotations

import threading
import time

from registry.client import RegistryClient
from registry.events import Event


class Subscriber:
    def __init__(self, target: str, token: str | None = None, **watch_options):
        self.client = RegistryClient(target, token)
        self.stream = self.client.watch(**watch_options)
        self.events: list[Event] = []
        self.error: Exception | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for event in self.stream:
                self.events.append(event)
        except Exception as exc:  # handed to the test through ``error``
            self.error = exc

    def wait_for(self, count: int, within: float = 30.0) -> list[Event]:
        """The events once ``count`` arrived (or what arrived when ``within`` seconds passed)."""
        deadline = time.monotonic() + within
        while len(self.events) < count and self.error is None and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.events)

    def close(self) -> None:
        self.stream.close()
        self._thread.join(10)
        self.client.close()

    def __enter__(self) -> Subscriber:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
