"""Deterministic sample batches for the example contracts (demo, tests, benchmarks).

    python examples/generate.py checkout --rows 1000 --out checkout.jsonl
    python examples/generate.py signup --rows 1000000 --out signup.pb.zst --format protobuf
    python examples/generate.py checkout --rows 100 --out bad.jsonl --bad
    python examples/generate.py pageview --rows 5000 --out page-views-dump.jsonl

Kinds: ``checkout`` (checkout.CheckoutCompleted, Avro contract), ``signup``
(identity.UserSignedUp, Protobuf contract) and ``pageview`` (web.PageViewed, JSON Schema contract:
the web API's JSON Lines dump, ``jsonl`` only). Formats: ``jsonl``, ``avro`` (object container file,
checkout only), ``protobuf`` (varint-length-delimited, signup only) and ``confluent`` (each record
framed by a 4-byte big-endian length, then magic byte 0, schema id, [message indexes], payload). A
name ending in ``.gz`` or ``.zst`` is compressed. Records are generated and written one by one, so
millions of rows take little memory. The same seed always gives the same bytes.

``--bad`` makes rows 2-6 break the contract, one way each (``BAD_ROWS``); binary formats get only
the violations they can encode (Avro: negative amount, bad e-mail; Protobuf: absent user id, unknown
enum number, bad country), the other rows stay valid. An absent proto3 ``user_id`` lands as its
default ``""`` in every format, which the contract's ``regex`` on it refuses. Page views break a
type, a required property and the contract's quality rules (``min``, ``accepted_values``, ``regex``).
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import random
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:  # run as a script from anywhere: make `lakehouse` importable
    sys.path.insert(0, str(HERE.parent))

import fastavro  # noqa: E402
import zstandard  # noqa: E402

from lakehouse.schema_mapping import message_class, parsed_schema  # noqa: E402
from registry.contract import Contract, load_contract  # noqa: E402

CONTRACTS = {
    "checkout": HERE / "contracts" / "checkout" / "checkout_completed.yaml",
    "signup": HERE / "contracts" / "identity" / "user_signed_up.yaml",
    "pageview": HERE / "contracts" / "web" / "page_viewed.yaml",
}
FORMATS = ("jsonl", "avro", "protobuf", "confluent")
START = datetime(2026, 1, 1, tzinfo=UTC)
RECENT = 1000  # duplicates repeat one of the last RECENT records

# Which rule each bad row breaks, per kind: row -> (field, rule, json-only).
BAD_ROWS = {
    "checkout": {
        2: ("amount", "type", True),
        3: ("order_id", "required", True),
        4: ("amount", "min", False),
        5: ("currency", "enum", True),
        6: ("email", "regex", False),
    },
    "signup": {
        2: ("country", "type", True),
        3: ("user_id", "regex", False),  # absent: proto3's default "" breaks the user id pattern
        4: ("plan", "enum", False),
        5: ("country", "regex", False),
    },
    "pageview": {
        2: ("duration_ms", "type", True),
        3: ("session_id", "required", True),
        4: ("duration_ms", "min", True),
        5: ("device", "enum", True),
        6: ("referrer", "regex", True),
    },
}
# The value a bad row puts in the field, per kind and rule (missing required fields are deleted).
BAD_VALUES = {
    "checkout": {"enum": "XXX", "regex": "not-an-email"},
    "signup": {"type": 42, "enum": "GOLD", "regex": "germany"},
    "pageview": {"type": "1.5s", "enum": "smartwatch", "regex": "not-a-url"},
}


def contract(kind: str) -> Contract:
    if kind not in CONTRACTS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {', '.join(CONTRACTS)}")
    return load_contract(CONTRACTS[kind])


def records(
    kind: str,
    rows: int,
    *,
    seed: int = 42,
    duplicates: float = 0.0,
    late: float = 0.0,
    bad: bool = False,
    fmt: str = "jsonl",
) -> Iterator[dict]:
    """``rows`` records of ``kind``; ``duplicates``/``late`` are the share of repeated / late events.

    With ``bad``, the rows of ``bad_rows(kind, fmt)`` each break the contract one way.
    """
    make = {"checkout": _checkout, "signup": _signup, "pageview": _pageview}[kind]
    broken = bad_rows(kind, fmt) if bad else {}
    rng = random.Random(seed)
    recent: list[dict] = []
    for row in range(1, rows + 1):
        repeat = rng.random() < duplicates
        if repeat and recent and row not in broken:
            yield dict(rng.choice(recent))
            continue
        when = START + timedelta(seconds=row, milliseconds=rng.randrange(1000))
        if rng.random() < late:
            when -= timedelta(days=rng.randint(1, 7))
        record = make(rng, when)
        recent.append(record)
        if len(recent) > RECENT:
            recent.pop(0)
        yield _broken(kind, row, record) if row in broken else record


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


USERS = 20_000
"""One user population for both domains, so users who sign up also check out (the Gold funnel)."""


def _user_id(user: int) -> str:
    return f"u-{user:06d}"


def _checkout(rng: random.Random, when: datetime) -> dict:
    user = rng.randrange(USERS)
    return {
        "event_id": _uuid(rng),
        "order_id": f"o-{rng.randrange(10**9):09d}",
        "user_id": _user_id(user),
        "email": f"user{user}@example.com",
        "amount": round(rng.uniform(1, 500), 2),
        "currency": rng.choice(("EUR", "USD", "GBP")),
        "completed_at": when,
        "items": [
            {"sku": f"sku-{rng.randrange(5000):04d}", "quantity": rng.randint(1, 5)}
            for _ in range(rng.randint(1, 3))
        ],
    }


def _signup(rng: random.Random, when: datetime) -> dict:
    user = rng.randrange(USERS)
    return {
        "event_id": _uuid(rng),
        "user_id": _user_id(user),
        "email": f"user{user}@example.com",
        "country": rng.choice(("DE", "FR", "GB", "US", "NL", "ES")),
        "signed_up_at": when,
        "plan": rng.choice(("FREE", "FREE", "PRO")),
    }


PAGES = ("/", "/search", "/products", "/cart", "/checkout")
SESSIONS = 5_000  # sessions from a pool, so a session views several pages


def _pageview(rng: random.Random, when: datetime) -> dict:
    user = rng.randrange(USERS)
    signed_in = rng.random() < 0.6
    path = rng.choice(PAGES)
    return {
        "event_id": _uuid(rng),
        "viewed_at": when,
        "session_id": f"s-{rng.randrange(SESSIONS):05d}",
        "user_id": _user_id(user) if signed_in else None,
        "user_email": f"user{user}@example.com" if signed_in else None,
        "page": {"url": f"https://shop.example.com{path}", "title": f"Shop {path.strip('/') or 'home'}"},
        "referrer": rng.choice((None, "https://www.google.com/", "https://shop.example.com/")),
        "duration_ms": rng.randrange(200, 120_000),
        "device": rng.choice(("desktop", "desktop", "mobile", "mobile", "tablet")),
    }


def _broken(kind: str, row: int, record: dict) -> dict:
    field, rule, _ = BAD_ROWS[kind][row]
    record = dict(record)
    if rule == "type" and kind == "checkout":
        record[field] = str(record[field])  # a number sent as a string
    elif rule in ("required", "not_null") or field == "user_id":
        del record[field]
    elif rule == "min":
        record[field] = -abs(record[field])
    else:
        record[field] = BAD_VALUES[kind][rule]
    return record


def bad_rows(kind: str, fmt: str) -> dict[int, tuple[str, str]]:
    """The broken rows a ``--bad`` file of this format holds: row -> (field, rule)."""
    return {
        row: (f, rule)
        for row, (f, rule, json_only) in BAD_ROWS[kind].items()
        if fmt == "jsonl" or not json_only
    }


def write(
    kind: str,
    path: str | Path,
    rows: int,
    *,
    fmt: str = "jsonl",
    seed: int = 42,
    duplicates: float = 0.0,
    late: float = 0.0,
    bad: bool = False,
    schema_id: int = 1,
) -> Path:
    """Write a sample batch file and return its path."""
    found = records(kind, rows, seed=seed, duplicates=duplicates, late=late, bad=bad, fmt=fmt)
    return write_records(found, path, contract(kind), fmt=fmt, schema_id=schema_id)


def write_records(records: Iterator[dict], path: str | Path, contract: Contract, *, fmt: str = "jsonl",
                  schema_id: int = 1) -> Path:  # fmt: skip
    """Stream records to ``path`` in ``fmt``; ``.gz``/``.zst`` names are compressed."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    path = Path(path)
    with _open_out(path) as out:
        if fmt == "jsonl":
            for record in records:
                out.write(json.dumps(record, default=_json_default, separators=(",", ":")).encode() + b"\n")
        elif fmt == "avro":
            _require(contract, "AVRO", fmt)
            fastavro.writer(out, parsed_schema(contract), records)
        elif fmt == "protobuf":
            _require(contract, "PROTOBUF", fmt)
            cls = message_class(contract)
            for record in records:
                out.write(delimited(to_message(cls, record).SerializeToString()))
        else:
            if contract.format not in ("AVRO", "PROTOBUF"):
                raise ValueError(
                    f"confluent output needs an AVRO or PROTOBUF contract; {contract.subject} is {contract.format}"
                )
            for record in records:
                out.write(confluent_frame(schema_id, _confluent_payload(contract, record)))
    return path


def _confluent_payload(contract: Contract, record: dict) -> bytes:
    if contract.format == "AVRO":
        buffer = io.BytesIO()
        fastavro.schemaless_writer(buffer, parsed_schema(contract), record)
        return buffer.getvalue()
    return b"\x00" + to_message(message_class(contract), record).SerializeToString()  # indexes [0]


def confluent_frame(schema_id: int, payload: bytes, magic: int = 0) -> bytes:
    """One dump record: 4-byte big-endian length, magic byte, 4-byte schema id, payload.

    For Protobuf the payload starts with the message indexes (a single 0 byte: the first message).
    """
    record = bytes([magic]) + schema_id.to_bytes(4, "big") + payload
    return len(record).to_bytes(4, "big") + record


def delimited(payload: bytes) -> bytes:
    """A message as ``writeDelimitedTo`` writes it: varint length, then the bytes."""
    return varint(len(payload)) + payload


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def to_message(cls, record: dict):
    """A Protobuf message from a flat record (timestamps from datetimes, enums by name or number)."""
    message = cls()
    for name, value in record.items():
        field = cls.DESCRIPTOR.fields_by_name[name]
        if field.message_type and field.message_type.full_name == "google.protobuf.Timestamp":
            getattr(message, name).FromDatetime(value)
        elif field.enum_type:
            known = field.enum_type.values_by_name.get(value)
            setattr(message, name, known.number if known else 99)  # 99: a number no symbol has
        else:
            setattr(message, name, value)
    return message


def _json_default(value):
    if isinstance(value, datetime):
        return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _require(contract: Contract, fmt_name: str, fmt: str) -> None:
    if contract.format != fmt_name:
        raise ValueError(f"{fmt} output needs a {fmt_name} contract; {contract.subject} is {contract.format}")


def _open_out(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "wb")
    if path.suffix in (".zst", ".zstd"):
        return zstandard.ZstdCompressor().stream_writer(open(path, "wb"), closefd=True)  # noqa: SIM115
    return open(path, "wb")  # noqa: SIM115


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Write a deterministic sample batch for an example contract."
    )
    parser.add_argument("kind", choices=sorted(CONTRACTS))
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--out", required=True, help="output file (.gz / .zst to compress)")
    parser.add_argument("--format", choices=FORMATS, default="jsonl")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--duplicates", type=float, default=0.0, help="share of repeated events, e.g. 0.01")
    parser.add_argument("--late", type=float, default=0.0, help="share of events 1-7 days late, e.g. 0.01")
    parser.add_argument("--bad", action="store_true", help="rows 2-6 each break the contract one way")
    parser.add_argument("--schema-id", type=int, default=1, help="schema id written in Confluent records")
    args = parser.parse_args(argv)
    try:
        path = write(args.kind, args.out, args.rows, fmt=args.format, seed=args.seed, duplicates=args.duplicates,
                     late=args.late, bad=args.bad, schema_id=args.schema_id)  # fmt: skip
    except ValueError as exc:
        parser.error(str(exc))
    print(f"wrote {args.rows} {args.kind} records to {path} ({args.format})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
