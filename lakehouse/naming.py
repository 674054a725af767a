"""Iceberg identifiers of a subject's tables, fixed so the gate, dbt sources and the CLI agree.

The table name rule itself (``checkout.CheckoutCompleted`` -> ``checkout__checkout_completed``) is
``registry.contract.table_name``, shared with contract-check.
"""

from __future__ import annotations

from registry.contract import table_name

__all__ = ["BRONZE", "QUARANTINE", "bronze_identifier", "quarantine_identifier", "table_name"]

BRONZE = "bronze"
QUARANTINE = "quarantine"


def bronze_identifier(subject: str) -> tuple[str, str]:
    return (BRONZE, table_name(subject))


def quarantine_identifier(subject: str) -> tuple[str, str]:
    return (QUARANTINE, table_name(subject))
