"""Iceberg names of a subject's tables, fixed so the gate, dbt sources and the CLI agree.

``checkout.CheckoutCompleted`` -> ``checkout__checkout_completed``: the owning domain, two
underscores, the rest of the subject in snake case (further dots become single underscores).
"""

from __future__ import annotations

import re

from registry.contract import validate_subject

BRONZE = "bronze"
QUARANTINE = "quarantine"

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def _snake(name: str) -> str:
    return _CAMEL_BOUNDARY.sub("_", name).lower()


def table_name(subject: str) -> str:
    """The table name of a subject in every namespace (bronze, quarantine, silver, gold)."""
    domain, rest = validate_subject(subject).split(".", 1)
    return f"{_snake(domain)}__{'_'.join(_snake(part) for part in rest.split('.'))}"


def bronze_identifier(subject: str) -> tuple[str, str]:
    return (BRONZE, table_name(subject))


def quarantine_identifier(subject: str) -> tuple[str, str]:
    return (QUARANTINE, table_name(subject))
