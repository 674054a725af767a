"""JSON values typed by the contract's neutral field tree: the precise pass of JSON Lines input.

One function per neutral kind turns a parsed JSON value into the Python value pyarrow builds the
Arrow column from (docs/lakehouse-types.md, "JSON values"), or names why it cannot:

- temporal kinds take an ISO 8601 / RFC 3339 string, or a JSON number counted in the type's own
  unit when the contract's type is a number underneath (``Type.base``: Avro logical types);
  strings are parsed by pyarrow, exactly as the fast path parses them;
- a decimal takes a JSON number (kept as its text: parse with ``parse_float=Decimal``) or a decimal
  string, and must fit its precision and scale without rounding;
- integers must be JSON integers in range (``3.0`` is not one), booleans ``true``/``false``;
- a map takes a JSON object, a ``json`` value anything (stored as canonical JSON text);
- an absent record field takes the contract's default; without one it stays null, and the
  validator reports a required one; a field with a ``json_name`` (Protobuf) is read under either
  name, its 64-bit integers also from digit strings, enums also by number, bytes as base64, and a
  null as the default (proto3's implicit one included: ``registry.compat.protobuf_fields``);
- Protobuf's ``Duration`` takes its JSON string (``"1.5s"``) as well as ``{seconds, nanos}``, and
  ``Struct`` / ``Value`` / ``ListValue`` any JSON of their shape, numbers as the doubles a ``Value``
  holds (``struct_json``), so JSON Lines and binary input land the same text.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from datetime import datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from functools import lru_cache

import pyarrow as pa
import pyarrow.json as pa_json
from google.protobuf import duration_pb2

from registry.compat.fields import Field, Type
from registry.compat.protobuf_fields import DURATION, JSON_VALUES, LIST_VALUE, STRUCT, VALUE

_INT_BOUNDS = {"int": 2**31, "long": 2**63}
_UNITS = {"millis": 1000, "micros": 1}  # microseconds per unit of a number-based type
_DECIMAL_TEXT = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_DIGITS = re.compile(r"-?\d+")


class Mismatch(Exception):  # noqa: N818 - a value that does not fit, not a failure of the program
    """A value that does not fit its field: the path (``items[].sku``) and what was expected."""

    def __init__(self, path: str, message: str, value: object = None, rule: str = "type"):
        super().__init__(message)
        self.path, self.message, self.value, self.rule = path, message, value, rule


class JsonObject(dict):
    """A parsed JSON object that remembers the keys it held more than once (``object_pairs_hook``)."""

    duplicates: frozenset = frozenset()

    @classmethod
    def from_pairs(cls, pairs: list[tuple[str, object]]) -> JsonObject:
        obj = cls(pairs)
        if len(obj) != len(pairs):
            seen: set[str] = set()
            obj.duplicates = frozenset(k for k, _ in pairs if k in seen or seen.add(k))
        return obj


class NonJsonNumber:
    """``NaN``, ``Infinity`` or ``-Infinity`` (``parse_constant``): not JSON, refused where a field reads it."""

    def __init__(self, literal: str):
        self.literal = literal


def parse_json_line(line: bytes):
    """A JSON line parsed for the precise pass: numbers with their exact digits (``Decimal``), invalid
    UTF-8 kept as lone surrogates, ``NaN`` literals and repeated keys marked; each is refused only
    where a contract field reads it, as the fast path (which skips unknown fields) does."""
    text = line.decode("utf-8", errors="surrogateescape")
    try:
        return json.loads(
            text, parse_float=Decimal, parse_constant=NonJsonNumber, object_pairs_hook=JsonObject.from_pairs
        )
    except RecursionError:  # json's decoder recurses once per level
        raise ValueError(TOO_DEEP) from None


TOO_DEEP = "nested deeper than the JSON decoder goes (about 1,000 levels)"


def record_value(obj: dict, fields: tuple[Field, ...], problems: list[Mismatch], prefix: str = "") -> dict:
    """The typed row of a JSON object; every field that does not fit is appended to ``problems``."""
    row = {}
    repeated = getattr(obj, "duplicates", ())
    for field in fields:
        if repeated and (field.name in repeated or field.json_name in repeated):
            problems.append(Mismatch(prefix + field.name, f"{prefix}{field.name}: the key appears twice in one object",
                                     rule="decode"))  # fmt: skip
            row[field.name] = None
            continue
        path = prefix + field.name
        try:
            row[field.name] = _field_value(obj, field, path, problems)
        except Mismatch as found:
            problems.append(found)
            row[field.name] = None
    return row


def _field_value(obj: dict, field: Field, path: str, problems: list[Mismatch]):
    present = field.name in obj
    value = obj.get(field.name)
    if field.json_name and field.json_name != field.name and field.json_name in obj:
        if present:
            raise Mismatch(path, f"{path}: given both as {field.name!r} and as {field.json_name!r}")
        present, value = True, obj[field.json_name]
    if value is None and present and field.type.name == VALUE:
        return "null"  # proto3 JSON: a null Value is the null_value, not an absent field
    if not present or (value is None and field.json_name is not None):
        if not field.has_default or field.default is None:
            return None  # the validator reports a required field
        value = field.default
    if value is None:
        return None
    return _value(value, field.type, path, problems, field.json_name is not None)


def _value(value, neutral: Type, path: str, problems: list[Mismatch], proto_json: bool = False):
    if isinstance(value, NonJsonNumber):
        raise Mismatch(path, f"{path}: {value.literal} is not a JSON number", value.literal, rule="decode")
    return _CONVERTERS[neutral.kind](value, neutral, path, problems, proto_json)


def _expected(path: str, what: str, value) -> Mismatch:
    return Mismatch(path, f"{path}: expected {what}, got a JSON {json_kind(value)}", value)


def json_kind(value) -> str:
    """The JSON kind of a parsed value, as messages name it."""
    kinds = ((bool, "boolean"), (int | float | Decimal, "number"), (str, "string"), (list, "array"),
             (dict, "object"))  # fmt: skip
    return next((name for kind, name in kinds if isinstance(value, kind)), "null")


def _boolean(value, neutral, path, problems, proto_json):
    if not isinstance(value, bool):
        raise _expected(path, "true or false", value)
    return value


def _integer(value, neutral, path, problems, proto_json):
    if proto_json and isinstance(value, str) and _DIGITS.fullmatch(value):
        value = int(value)  # proto3 JSON: 64-bit integers may come as strings
    if not isinstance(value, int) or isinstance(value, bool):
        raise _expected(path, f"an integer ({neutral.kind})", value)
    bound = _INT_BOUNDS[neutral.kind]
    if not -bound <= value < bound:
        raise Mismatch(path, f"{path}: {value} is out of range for {neutral.kind}", value)
    return value


def _floating(value, neutral, path, problems, proto_json):
    if not isinstance(value, int | float | Decimal) or isinstance(value, bool):
        raise _expected(path, "a number", value)
    return float(value)


def _string(value, neutral, path, problems, proto_json):
    if not isinstance(value, str):
        raise _expected(path, "a string", value)
    return checked_text(value, path)


def checked_text(value: str, path: str) -> str:
    """The string, refused when it holds a lone surrogate: invalid UTF-8 in the line (kept as
    ``\\udc80``-``\\udcff`` by ``parse_json_line``) or an escape such as ``"\\ud800"``."""
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            char = ord(value[exc.start])
            what = (
                f"invalid UTF-8 (byte 0x{char - 0xDC00:02x})"
                if 0xDC80 <= char <= 0xDCFF
                else "a lone surrogate"
            )
            raise Mismatch(
                path, f"{path}: {what} at character {exc.start} of the string", rule="decode"
            ) from None
    return value


def _bytes(value, neutral, path, problems, proto_json):
    if isinstance(value, bytes):  # a default given as bytes
        return value
    if not isinstance(value, str):
        raise _expected(path, "a string", value)
    if proto_json:
        return _base64(value, path)
    data = checked_text(value, path).encode("utf-8")
    if neutral.kind == "fixed" and len(data) != neutral.size:
        raise Mismatch(path, f"{path}: expected a string of {neutral.size} bytes, got {len(data)}", value)
    return data


def _base64(value: str, path: str) -> bytes:
    """proto3 JSON bytes: standard or URL-safe base64, padding optional."""
    text = value.replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise Mismatch(path, f"{path}: expected base64 (proto3 JSON bytes)", value) from None


def _uuid(value, neutral, path, problems, proto_json):
    if not isinstance(value, str):
        raise _expected(path, "a UUID string", value)
    if not UUID_PATTERN.fullmatch(value):
        raise Mismatch(path, f"{path}: {value!r} is not a UUID (8-4-4-4-12 hex digits)", value)
    return value


UUID_PATTERN = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
"""The string form of a ``uuid`` field (RFC 9562), also checked on the fast path."""


def _decimal(value, neutral, path, problems, proto_json):
    if isinstance(value, str):
        if not _DECIMAL_TEXT.fullmatch(value):
            raise Mismatch(path, f"{path}: {value!r} is not a decimal number", value)
        number = Decimal(value)
    elif isinstance(value, Decimal | int) and not isinstance(value, bool):
        number = Decimal(value)
    elif isinstance(value, float):  # a float on the way would not be exact: parse with parse_float=Decimal
        raise Mismatch(path, f"{path}: the decimal was read as a float; parse JSON with parse_float=Decimal")
    else:
        raise _expected(
            path, f"a decimal number or string (decimal({neutral.precision}, {neutral.scale}))", value
        )
    try:
        exact = number.quantize(Decimal(1).scaleb(-neutral.scale))
    except InvalidOperation:
        exact = None
    if exact is None or exact != number:
        raise Mismatch(path, f"{path}: {value} has more than {neutral.scale} decimal places", value)
    if abs(exact) >= Decimal(10) ** (neutral.precision - neutral.scale):
        raise Mismatch(path, f"{path}: {value} has more than {neutral.precision} digits", value)
    return exact


def _unit_number(value, neutral: Type, path: str):
    """A JSON number for a temporal type, or None when the value is a string to parse."""
    if isinstance(value, str):
        return None
    if neutral.base is None or not isinstance(value, int) or isinstance(value, bool):
        what = "an integer or an ISO 8601 string" if neutral.base else "an ISO 8601 string"
        raise _expected(path, f"{what} ({neutral.kind})", value)
    return value


def _timestamp(value, neutral, path, problems, proto_json):
    number = _unit_number(value, neutral, path)
    if number is None:
        return parse_text(value, neutral, path)
    micros = number * _UNITS[neutral.unit]
    if not -(2**63) <= micros < 2**63:
        raise Mismatch(path, f"{path}: {number} {neutral.unit} is out of range for a timestamp", value)
    return micros  # pyarrow takes microseconds as they are, beyond Python's years 1 to 9999 too


def _date(value, neutral, path, problems, proto_json):
    number = _unit_number(value, neutral, path)
    if number is None:
        return parse_text(value, neutral, path)
    if not -(2**31) <= number < 2**31:
        raise Mismatch(path, f"{path}: {number} days is out of range for a date", value)
    return number  # days since 1970-01-01, as pyarrow takes them


def _time(value, neutral, path, problems, proto_json):
    number = _unit_number(value, neutral, path)
    if number is None:
        try:
            return time.fromisoformat(checked_text(value, path))
        except ValueError:
            raise Mismatch(path, f"{path}: {value!r} is not an ISO 8601 time of day", value) from None
    micros = number * _UNITS[neutral.unit]
    if not 0 <= micros < 86_400_000_000:
        raise Mismatch(path, f"{path}: {number} {neutral.unit} is not a time of day", value)
    return (datetime.min + timedelta(microseconds=micros)).time()


def _enum(value, neutral, path, problems, proto_json):
    if proto_json and isinstance(value, int) and not isinstance(value, bool):
        names = dict(zip(neutral.numbers, neutral.symbols, strict=True))
        return names.get(value, str(value))  # proto3 JSON: by number; an unknown one fails the enum check
    if not isinstance(value, str):
        raise _expected(path, "a symbol of the enum", value)
    return checked_text(value, path)  # the validator checks the symbol; invalid UTF-8 is refused here


def _record(value, neutral, path, problems, proto_json):
    if neutral.name == DURATION and proto_json and isinstance(value, str):
        return _duration(value, path)
    if not isinstance(value, dict):
        raise _expected(path, "an object", value)
    return record_value(value, neutral.fields, problems, path + ".")


def _list(value, neutral, path, problems, proto_json):
    if not isinstance(value, list):
        raise _expected(path, "an array", value)
    element = neutral.element
    out = []
    for item in value:
        try:
            out.append(
                None
                if item is None and element.type.name != VALUE  # a null Value is "null"
                else _value(item, element.type, path + "[]", problems, proto_json)
            )
        except Mismatch as found:
            problems.append(found)
            out.append(None)
    return out


def _map(value, neutral, path, problems, proto_json):
    if not isinstance(value, dict):
        raise _expected(path, "an object", value)
    if getattr(value, "duplicates", ()):
        repeated = ", ".join(map(repr, sorted(value.duplicates)))
        raise Mismatch(path, f"{path}: key {repeated} appears twice in one object", rule="decode")
    entries = []
    for key, item in value.items():
        where = f"{path}{{}}"
        try:
            typed_key = _value(key, neutral.key.type, f"{path}{{key}}", problems, True)
            typed = (
                None
                if item is None and neutral.value.type.name != VALUE
                else _value(item, neutral.value.type, where, problems, proto_json)
            )
        except Mismatch as found:
            problems.append(found)
            continue
        entries.append((typed_key, typed))
    return entries


def _duration(value: str, path: str) -> dict:
    """proto3 JSON ``Duration``: seconds with up to 9 fractional digits and an ``s`` (``"-1.5s"``)."""
    duration = duration_pb2.Duration()
    try:
        duration.FromJsonString(checked_text(value, path))
    except ValueError:
        raise Mismatch(
            path, f'{path}: {value!r} is not a proto3 JSON Duration (such as "1.5s")', value
        ) from None
    return {"seconds": duration.seconds, "nanos": duration.nanos}


def _json(value, neutral, path, problems, proto_json):
    if neutral.name in JSON_VALUES:
        wanted = {STRUCT: (dict, "an object (Struct)"), LIST_VALUE: (list, "an array (ListValue)")}
        kind, what = wanted.get(neutral.name, (object, ""))
        if not isinstance(value, kind):
            raise _expected(path, what, value)
        return struct_json(value, path)
    return canonical_json(value)


def struct_json(value, path: str) -> str:
    """The canonical JSON text of a ``Struct`` / ``Value`` / ``ListValue``, as ``canonical_json``
    writes it but with every number the double a ``Value`` holds (integral ones without ``.0``):
    JSON Lines and binary Protobuf input of the same value land the same text."""
    return canonical_json(_as_struct_value(value, path))


def _as_struct_value(value, path: str):
    if isinstance(value, dict):
        if getattr(value, "duplicates", ()):
            repeated = ", ".join(map(repr, sorted(value.duplicates)))
            raise Mismatch(path, f"{path}: key {repeated} appears twice in one object", rule="decode")
        return {checked_text(k, path): _as_struct_value(v, f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_as_struct_value(item, f"{path}[]") for item in value]
    if isinstance(value, NonJsonNumber):
        raise Mismatch(path, f"{path}: {value.literal} is not a JSON number", value.literal, rule="decode")
    if isinstance(value, str):
        return checked_text(value, path)
    if isinstance(value, bool) or value is None:
        return value
    number = float(value)
    if number != number or number in (float("inf"), float("-inf")):
        raise Mismatch(path, f"{path}: {value} is not a finite double (a Struct number)", str(value))
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def canonical_json(value) -> str:
    """A ``json`` field's text: keys sorted, no spaces, non-ASCII kept, numbers as they were sent."""
    if isinstance(value, dict):
        items = (
            f"{json.dumps(key, ensure_ascii=False)}:{canonical_json(value[key])}" for key in sorted(value)
        )
        return "{" + ",".join(items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(canonical_json(item) for item in value) + "]"
    if isinstance(value, Decimal):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def _refused(value, neutral, path, problems, proto_json):
    raise Mismatch(path, f"{path}: type {neutral.kind!r} has no JSON mapping", value)


_CONVERTERS: dict[str, Callable] = {
    "boolean": _boolean,
    "int": _integer,
    "long": _integer,
    "float": _floating,
    "double": _floating,
    "string": _string,
    "bytes": _bytes,
    "fixed": _bytes,
    "uuid": _uuid,
    "decimal": _decimal,
    "timestamp": _timestamp,
    "date": _date,
    "time": _time,
    "enum": _enum,
    "record": _record,
    "list": _list,
    "map": _map,
    "json": _json,
    "union": _refused,
    "null": _refused,
}


def parse_text(value: str, neutral: Type, path: str):
    """A timestamp or date string, parsed by pyarrow the way the fast path parses it."""
    parsed = _parse_with_pyarrow(checked_text(value, path), _arrow_temporal(neutral))
    if parsed is None:
        raise Mismatch(path, f"{path}: {value!r} is not an ISO 8601 {neutral.kind}", value)
    return parsed


def _arrow_temporal(neutral: Type) -> pa.DataType:
    if neutral.kind == "date":
        return pa.date32()
    return pa.timestamp("us", tz="UTC" if neutral.tz else None)


@lru_cache(maxsize=4096)
def _parse_with_pyarrow(text: str, arrow_type: pa.DataType):
    """Dates go through pyarrow's string cast, timestamps through its JSON reader: the fast path's own."""
    try:
        if pa.types.is_date(arrow_type):
            return pa.array([text]).cast(arrow_type)[0].as_py()
        line = json.dumps({"v": text}).encode()
        options = pa_json.ParseOptions(explicit_schema=pa.schema([("v", arrow_type)]))
        return pa_json.read_json(pa.BufferReader(line), parse_options=options).column(0)[0].as_py()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError, OverflowError):
        return None
