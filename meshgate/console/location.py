"""Where the console lives (its URL prefix) and where its lakehouse pages read."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PREFIX = "/ui"


@dataclass(frozen=True)
class LakehouseLocation:
    """The data directory, or a catalog URL and a warehouse (as every lakehouse command takes them)."""

    data_dir: str | Path = ".meshgate"
    catalog_url: str | None = None
    warehouse: str | None = None
