"""The JSON Schema rule table: Confluent Schema Registry's ``Difference.Type``s, one function each.

Each rule looks at one pair the walker hands it and reports its difference; ``compatible`` says
whether a reader with the reader schema still reads data written with the writer schema (Confluent's
``COMPATIBLE_CHANGES``, STRICT policy). BACKWARD checks old as writer and new as reader, FORWARD the
other way round, so a compatible difference one way is usually its incompatible mirror the other
(``MAX_LENGTH_INCREASED`` one way is ``MAX_LENGTH_DECREASED`` the other). Ids marked ``MESHGATE``
are ours, for differences Confluent does not look at. See docs/json-schema-compatibility.md.
"""

from __future__ import annotations

from decimal import Decimal

from registry.compat.json_schema_rule_types import MESHGATE, Finding, Labels, RuleList
from registry.compat.json_schema_walk import (
    SUMS,
    CombinedPair,
    DependencyPair,
    ItemPair,
    NotPair,
    PropertyPair,
    SchemaPair,
    SlotPair,
    criteria_change,
    type_relation,
)

RULES = RuleList()
rule = RULES.rule


def _types(types) -> str:
    return "any type" if types is None else " or ".join(f'"{t}"' for t in sorted(types))


# -- types, annotations, enum/const (every schema pair) --------------------------------------------


@rule(
    "TYPE_CHANGED",
    "The type changed to one that does not hold the other's values.",
    "schema",
    compatible=False,
    fix='Keep the old type; to accept another, list both (e.g. "type": ["string", "integer"]) or publish a new subject.',
)
def type_changed(pair: SchemaPair, labels: Labels):
    if pair.reader.is_false:
        return Finding(
            f"the {labels.reader} schema is false here and accepts nothing the {labels.writer} one writes"
        )
    if type_relation(pair.writer.types, pair.reader.types) == "changed":
        return Finding(
            f"the type is {_types(pair.writer.types)} in the {labels.writer} schema and "
            f"{_types(pair.reader.types)} in the {labels.reader} schema"
        )
    return None


@rule(
    "TYPE_NARROWED",
    'The type narrowed from "number" to "integer".',
    "schema",
    compatible=False,
    fix='Keep "number": the writer may produce values with a fraction.',
)
def type_narrowed(pair: SchemaPair, labels: Labels):
    if type_relation(pair.writer.types, pair.reader.types) == "narrowed":
        return Finding(f'the {labels.reader} schema narrows "number" to "integer"')
    return None


@rule("TYPE_EXTENDED", 'The type widened from "integer" to "number".', "schema", compatible=True)
def type_extended(pair: SchemaPair, labels: Labels):
    if type_relation(pair.writer.types, pair.reader.types) == "extended":
        return Finding(f'the {labels.reader} schema widens "integer" to "number"')
    return None


def _annotation(pair: SchemaPair, keyword: str, labels: Labels):
    writer, reader = pair.writer.get(keyword), pair.reader.get(keyword)
    if writer != reader:
        return Finding(
            f"{keyword} differs between the {labels.writer} and the {labels.reader} schema", keyword
        )
    return None


@rule("ID_CHANGED", "$id changed (an annotation for compatibility).", "schema", compatible=True)
def id_changed(pair: SchemaPair, labels: Labels):
    return _annotation(pair, pair.reader.document.dialect.id_keyword, labels)


@rule("TITLE_CHANGED", "title changed.", "schema", compatible=True)
def title_changed(pair: SchemaPair, labels: Labels):
    return _annotation(pair, "title", labels)


@rule("DESCRIPTION_CHANGED", "description changed.", "schema", compatible=True)
def description_changed(pair: SchemaPair, labels: Labels):
    return _annotation(pair, "description", labels)


@rule("DEFAULT_CHANGED", "default changed.", "schema", compatible=True)
def default_changed(pair: SchemaPair, labels: Labels):
    return _annotation(pair, "default", labels)


def _enum_keyword(pair: SchemaPair) -> str:
    node = pair.reader if pair.reader.enum is not None else pair.writer
    return "const" if node.has("const") else "enum"


def _enum_change(pair: SchemaPair) -> str | None:
    writer, reader = pair.writer.enum, pair.reader.enum
    if writer == reader:
        return None
    if reader is None or (writer is not None and writer < reader):
        return "extended"
    if writer is None or reader < writer:
        return "narrowed"
    return "changed"


@rule(
    "ENUM_ARRAY_EXTENDED",
    "The enum (or const) admits more values, or was dropped.",
    "schema",
    compatible=True,
    keywords=("enum", "const"),
)
def enum_array_extended(pair: SchemaPair, labels: Labels):
    if _enum_change(pair) == "extended":
        return Finding(
            f"the {labels.reader} schema admits more values than the {labels.writer} one", _enum_keyword(pair)
        )
    return None


@rule(
    "ENUM_ARRAY_NARROWED",
    "The enum (or const) admits fewer values, or was added.",
    "schema",
    compatible=False,
    fix="Keep every value the writer's schema admits; drop values only once no writer produces them.",
    keywords=("enum", "const"),
)
def enum_array_narrowed(pair: SchemaPair, labels: Labels):
    if _enum_change(pair) == "narrowed":
        missing = (
            "values" if pair.writer.enum is None else ", ".join(sorted(pair.writer.enum - pair.reader.enum))
        )
        return Finding(
            f"the {labels.reader} schema no longer admits {missing} that the {labels.writer} schema admits",
            _enum_keyword(pair),
        )
    return None


@rule(
    "ENUM_ARRAY_CHANGED",
    "The enum (or const) values changed: some removed, some added.",
    "schema",
    compatible=False,
    fix="Only add values to an enum; keep the ones writers may still produce.",
    keywords=("enum", "const"),
)
def enum_array_changed(pair: SchemaPair, labels: Labels):
    if _enum_change(pair) == "changed":
        missing = ", ".join(sorted(pair.writer.enum - pair.reader.enum))
        return Finding(
            f"the {labels.reader} schema replaces the admitted values; it lacks {missing}",
            _enum_keyword(pair),
        )
    return None


# -- numeric limits: one comparison, four rules each -------------------------------------------------


def _limit_change(pair, keyword: str) -> tuple[str | None, Decimal | None, Decimal | None]:
    writer, reader = pair.writer.limit(keyword), pair.reader.limit(keyword)
    if writer == reader:
        return None, writer, reader
    if writer is None:
        return "ADDED", writer, reader
    if reader is None:
        return "REMOVED", writer, reader
    return ("INCREASED" if writer < reader else "DECREASED"), writer, reader


def _limit(pair, keyword: str, expected: str, labels: Labels):
    change, writer, reader = _limit_change(pair, keyword)
    if change != expected:
        return None
    if change == "ADDED":
        text = f"the {labels.reader} schema has {keyword} {reader}, absent from the {labels.writer} schema"
    elif change == "REMOVED":
        text = f"the {labels.reader} schema lacks {keyword} {writer} of the {labels.writer} schema"
    else:
        text = (
            f"{keyword} is {writer} in the {labels.writer} schema and {reader} in the {labels.reader} schema"
        )
    return Finding(text, keyword)


_LOOSEN = "Keep the {keyword} of the writer's schema, or loosen it; tighten it only once no writer produces such values."


def _limit_rules(target: str, keyword: str, rule_prefix: str, upper: bool) -> None:
    """Register ``<PREFIX>_ADDED/_REMOVED/_INCREASED/_DECREASED`` for a bound (``upper``: a maximum)."""
    tighter = "DECREASED" if upper else "INCREASED"
    for change in ("ADDED", "REMOVED", "INCREASED", "DECREASED"):
        compatible = change == "REMOVED" or (change not in ("ADDED", tighter))

        def check(pair, labels: Labels, change=change):
            return _limit(pair, keyword, change, labels)

        check.__name__ = f"{rule_prefix.lower()}_{change.lower()}"
        description = {
            "ADDED": f"{keyword} was added.",
            "REMOVED": f"{keyword} was removed.",
            "INCREASED": f"{keyword} was raised.",
            "DECREASED": f"{keyword} was lowered.",
        }[change]
        rule(
            f"{rule_prefix}_{change}",
            description,
            target,
            compatible,
            "" if compatible else _LOOSEN.format(keyword=keyword),
            keywords=(keyword,),
        )(check)


for _keyword, _prefix, _upper in (("maxLength", "MAX_LENGTH", True), ("minLength", "MIN_LENGTH", False)):
    _limit_rules("string", _keyword, _prefix, _upper)


# -- strings -----------------------------------------------------------------------------------------


def _text_change(pair, keyword: str) -> str | None:
    writer, reader = pair.writer.get(keyword), pair.reader.get(keyword)
    if writer == reader:
        return None
    if writer is None:
        return "ADDED"
    return "REMOVED" if reader is None else "CHANGED"


def _text(pair, keyword: str, expected: str, labels: Labels):
    if _text_change(pair, keyword) != expected:
        return None
    writer, reader = pair.writer.get(keyword), pair.reader.get(keyword)
    if expected == "ADDED":
        return Finding(f'the {labels.reader} schema has {keyword} "{reader}"', keyword)
    if expected == "REMOVED":
        return Finding(f'the {labels.reader} schema lacks {keyword} "{writer}"', keyword)
    return Finding(
        f'{keyword} is "{writer}" in the {labels.writer} schema and "{reader}" in the {labels.reader} schema',
        keyword,
    )


@rule(
    "PATTERN_ADDED",
    "A pattern was added.",
    "string",
    compatible=False,
    fix="Leave the pattern out, or add it only once every writer's values match it.",
    keywords=("pattern",),
)
def pattern_added(pair: SchemaPair, labels: Labels):
    return _text(pair, "pattern", "ADDED", labels)


@rule("PATTERN_REMOVED", "The pattern was removed.", "string", compatible=True, keywords=("pattern",))
def pattern_removed(pair: SchemaPair, labels: Labels):
    return _text(pair, "pattern", "REMOVED", labels)


@rule(
    "PATTERN_CHANGED",
    "The pattern changed (compared as text, as Confluent does).",
    "string",
    compatible=False,
    fix="Keep the writer's pattern; to loosen it, drop it rather than rewrite it.",
    keywords=("pattern",),
)
def pattern_changed(pair: SchemaPair, labels: Labels):
    return _text(pair, "pattern", "CHANGED", labels)


@rule(
    "FORMAT_ADDED",
    "A format was added (meshgate: formats decide Bronze column types).",
    "string",
    compatible=False,
    fix="Leave the format out, or add it in a new subject: existing data may not match it.",
    categories=MESHGATE,
    keywords=("format",),
)
def format_added(pair: SchemaPair, labels: Labels):
    return _text(pair, "format", "ADDED", labels)


@rule(
    "FORMAT_REMOVED",
    "The format was removed (meshgate).",
    "string",
    compatible=True,
    categories=MESHGATE,
    keywords=("format",),
)
def format_removed(pair: SchemaPair, labels: Labels):
    return _text(pair, "format", "REMOVED", labels)


@rule(
    "FORMAT_CHANGED",
    "The format changed (meshgate: e.g. date to date-time changes the Bronze column type).",
    "string",
    compatible=False,
    fix="Keep the format; put values of another format in a new property.",
    categories=MESHGATE,
    keywords=("format",),
)
def format_changed(pair: SchemaPair, labels: Labels):
    return _text(pair, "format", "CHANGED", labels)


# -- numbers -----------------------------------------------------------------------------------------

for _keyword, _prefix, _upper in (
    ("maximum", "MAXIMUM", True),
    ("minimum", "MINIMUM", False),
    ("exclusiveMaximum", "EXCLUSIVE_MAXIMUM", True),
    ("exclusiveMinimum", "EXCLUSIVE_MINIMUM", False),
):
    _limit_rules("number", _keyword, _prefix, _upper)


def _multiple_of_change(pair: SchemaPair) -> str | None:
    writer, reader = pair.writer.limit("multipleOf"), pair.reader.limit("multipleOf")
    if writer == reader:
        return None
    if writer is None:
        return "ADDED"
    if reader is None:
        return "REMOVED"
    if reader % writer == 0:
        return "EXPANDED"
    return "REDUCED" if writer % reader == 0 else "CHANGED"


def _multiple_of(pair: SchemaPair, expected: str, labels: Labels):
    if _multiple_of_change(pair) != expected:
        return None
    writer, reader = pair.writer.limit("multipleOf"), pair.reader.limit("multipleOf")
    return Finding(
        f"multipleOf is {writer if writer is not None else 'absent'} in the {labels.writer} schema and "
        f"{reader if reader is not None else 'absent'} in the {labels.reader} schema",
        "multipleOf",
    )


_MULTIPLE_FIX = (
    "Use a multipleOf that divides the writer's (or none): the writer's multiples must stay multiples."
)


@rule(
    "MULTIPLE_OF_ADDED",
    "A multipleOf was added.",
    "number",
    compatible=False,
    fix=_MULTIPLE_FIX,
    keywords=("multipleOf",),
)
def multiple_of_added(pair: SchemaPair, labels: Labels):
    return _multiple_of(pair, "ADDED", labels)


@rule(
    "MULTIPLE_OF_REMOVED", "The multipleOf was removed.", "number", compatible=True, keywords=("multipleOf",)
)
def multiple_of_removed(pair: SchemaPair, labels: Labels):
    return _multiple_of(pair, "REMOVED", labels)


@rule(
    "MULTIPLE_OF_EXPANDED",
    "The multipleOf became a multiple of the old one (stricter).",
    "number",
    compatible=False,
    fix=_MULTIPLE_FIX,
    keywords=("multipleOf",),
)
def multiple_of_expanded(pair: SchemaPair, labels: Labels):
    return _multiple_of(pair, "EXPANDED", labels)


@rule(
    "MULTIPLE_OF_REDUCED",
    "The multipleOf became a divisor of the old one (looser).",
    "number",
    compatible=True,
    keywords=("multipleOf",),
)
def multiple_of_reduced(pair: SchemaPair, labels: Labels):
    return _multiple_of(pair, "REDUCED", labels)


@rule(
    "MULTIPLE_OF_CHANGED",
    "The multipleOf changed to a value that neither divides nor is a multiple of the old one.",
    "number",
    compatible=False,
    fix=_MULTIPLE_FIX,
    keywords=("multipleOf",),
)
def multiple_of_changed(pair: SchemaPair, labels: Labels):
    return _multiple_of(pair, "CHANGED", labels)


# -- objects: attributes and the content model --------------------------------------------------------

for _keyword, _prefix, _upper in (
    ("maxProperties", "MAX_PROPERTIES", True),
    ("minProperties", "MIN_PROPERTIES", False),
):
    _limit_rules("object", _keyword, _prefix, _upper)


def _extra_change(writer, reader) -> str | None:
    """Confluent's comparison of ``additionalProperties`` / ``additionalItems``: whether extra members
    are permitted, and whether a schema constrains them."""
    writer_permits = writer is None or not writer.is_false
    reader_permits = reader is None or not reader.is_false
    if writer_permits != reader_permits:
        return "ADDED" if reader_permits else "REMOVED"
    writer_schema = writer is not None and not writer.is_empty and not writer.is_false
    reader_schema = reader is not None and not reader.is_empty and not reader.is_false
    if reader_schema and not writer_schema:
        return "NARROWED"
    if writer_schema and not reader_schema:
        return "EXTENDED"
    return None


def _extra(pair: SchemaPair, keyword: str, expected: str, labels: Labels):
    if keyword == "additionalItems":
        writer, reader = pair.writer.additional_items, pair.reader.additional_items
    else:
        writer, reader = pair.writer.child(keyword), pair.reader.child(keyword)
    if _extra_change(writer, reader) != expected:
        return None
    texts = {
        "ADDED": f"the {labels.reader} schema permits {keyword} the {labels.writer} schema forbade",
        "REMOVED": f"the {labels.reader} schema forbids {keyword} the {labels.writer} schema permitted",
        "NARROWED": f"the {labels.reader} schema constrains {keyword} with a schema the {labels.writer} schema did not have",
        "EXTENDED": f"the {labels.reader} schema lacks the {keyword} schema of the {labels.writer} schema",
    }
    return Finding(texts[expected], keyword)


_CLOSE_FIX = (
    "Keep {keyword} as the writer's schema has it: writers may already produce such members. "
    "Close a content model only in the first version of a subject."
)


_EXTRA_DESCRIPTIONS = {
    "ADDED": "{keyword} now permits the members it forbade (false became true or a schema).",
    "REMOVED": "{keyword} now forbids the members it permitted (it became false).",
    "EXTENDED": "{keyword} lost its schema: any such member is permitted.",
    "NARROWED": "{keyword} gained a schema such members must match.",
}


def _extra_rules(target: str, keyword: str, rule_prefix: str) -> None:
    for change, compatible in (("ADDED", True), ("REMOVED", False), ("EXTENDED", True), ("NARROWED", False)):

        def check(pair, labels: Labels, change=change):
            return _extra(pair, keyword, change, labels)

        check.__name__ = f"{rule_prefix.lower()}_{change.lower()}"
        rule(
            f"{rule_prefix}_{change}",
            _EXTRA_DESCRIPTIONS[change].format(keyword=keyword),
            target,
            compatible,
            "" if compatible else _CLOSE_FIX.format(keyword=keyword),
        )(check)


_extra_rules("object", "additionalProperties", "ADDITIONAL_PROPERTIES")
_extra_rules("object", "unevaluatedProperties", "UNEVALUATED_PROPERTIES")


# -- properties --------------------------------------------------------------------------------------


def _required_in(pair: PropertyPair, reader: bool) -> bool:
    return pair.name in (pair.parent.reader if reader else pair.parent.writer).required


@rule(
    "REQUIRED_ATTRIBUTE_ADDED",
    "A property became required without a default.",
    "required",
    compatible=False,
    fix="Keep the property optional, or give it a default so readers can fill it in.",
)
def required_attribute_added(pair: PropertyPair, labels: Labels):
    if pair.writer and pair.reader and not _required_in(pair, False) and _required_in(pair, True):
        if not pair.reader.has_default:
            return Finding(
                f"the {labels.reader} schema requires {pair.name!r}, optional in the {labels.writer} schema"
            )
    return None


@rule(
    "REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED",
    "A property with a default became required.",
    "required",
    compatible=True,
)
def required_attribute_with_default_added(pair: PropertyPair, labels: Labels):
    if pair.writer and pair.reader and not _required_in(pair, False) and _required_in(pair, True):
        if pair.reader.has_default:
            return Finding(f"the {labels.reader} schema requires {pair.name!r}, which has a default")
    return None


@rule("REQUIRED_ATTRIBUTE_REMOVED", "A property is no longer required.", "required", compatible=True)
def required_attribute_removed(pair: PropertyPair, labels: Labels):
    if pair.writer and pair.reader and _required_in(pair, False) and not _required_in(pair, True):
        return Finding(f"the {labels.reader} schema no longer requires {pair.name!r}")
    return None


def _added(pair: PropertyPair) -> bool:
    return pair.writer is None and pair.reader is not None


def _removed(pair: PropertyPair) -> bool:
    return pair.reader is None and pair.writer is not None


_OPEN_FIX = (
    "The writer's schema is open (additionalProperties absent or true), so writers may already send "
    "that property with any value: declare additionalProperties false in the first version, or give the new "
    "property an unused name with a schema that accepts anything."
)


@rule(
    "PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL",
    "A property accepting anything was added where the writer's content model is open.",
    "property_added",
    compatible=True,
)
def property_with_empty_schema_added_to_open_content_model(pair: PropertyPair, labels: Labels):
    if _added(pair) and pair.writer_model == "open" and pair.reader.is_empty:
        return Finding(f"the {labels.reader} schema declares {pair.name!r} with an empty schema")
    return None


def _added_to_open(pair: PropertyPair, required: bool, with_default: bool) -> bool:
    if not (_added(pair) and pair.writer_model == "open" and not pair.reader.is_empty):
        return False
    return _required_in(pair, True) == required and (not required or pair.reader.has_default == with_default)


@rule(
    "REQUIRED_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL",
    "A required property was added where the writer's content model is open.",
    "property_added",
    compatible=False,
    fix=_OPEN_FIX,
)
def required_property_added_to_open_content_model(pair: PropertyPair, labels: Labels):
    if _added_to_open(pair, required=True, with_default=False):
        return Finding(
            f"the {labels.reader} schema has required property {pair.name!r} where the {labels.writer} schema's content model is open"
        )
    return None


@rule(
    "REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_OPEN_CONTENT_MODEL",
    "A required property with a default was added where the writer's content model is open.",
    "property_added",
    compatible=False,
    fix=_OPEN_FIX,
)
def required_property_with_default_added_to_open_content_model(pair: PropertyPair, labels: Labels):
    if _added_to_open(pair, required=True, with_default=True):
        return Finding(
            f"the {labels.reader} schema has required property {pair.name!r} (with a default) where the {labels.writer} schema's content model is open"
        )
    return None


@rule(
    "OPTIONAL_PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL",
    "An optional property was added where the writer's content model is open.",
    "property_added",
    compatible=False,
    fix=_OPEN_FIX,
)
def optional_property_added_to_open_content_model(pair: PropertyPair, labels: Labels):
    if _added_to_open(pair, required=False, with_default=False):
        return Finding(
            f"the {labels.reader} schema has property {pair.name!r} where the {labels.writer} schema's content model is open"
        )
    return None


def _added_to_unopen(pair: PropertyPair) -> bool:
    return _added(pair) and pair.writer_model != "open"


@rule(
    "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL",
    "A required property without a default was added where the writer's content model is closed or partially open.",
    "property_added",
    compatible=False,
    fix="Make the new property optional, or give it a default: data from writers lacks it.",
)
def required_property_added_to_unopen_content_model(pair: PropertyPair, labels: Labels):
    if _added_to_unopen(pair) and _required_in(pair, True) and not pair.reader.has_default:
        return Finding(
            f"the {labels.reader} schema has required property {pair.name!r}, which writers never send"
        )
    return None


@rule(
    "REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL",
    "A required property with a default was added where the writer's content model is not open.",
    "property_added",
    compatible=True,
)
def required_property_with_default_added_to_unopen_content_model(pair: PropertyPair, labels: Labels):
    if _added_to_unopen(pair) and _required_in(pair, True) and pair.reader.has_default:
        return Finding(f"the {labels.reader} schema has required property {pair.name!r} with a default")
    return None


@rule(
    "OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL",
    "An optional property was added where the writer's content model is not open.",
    "property_added",
    compatible=True,
)
def optional_property_added_to_unopen_content_model(pair: PropertyPair, labels: Labels):
    if _added_to_unopen(pair) and not _required_in(pair, True):
        return Finding(f"the {labels.reader} schema has optional property {pair.name!r}")
    return None


@rule(
    "PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
    "An added property's schema accepts what the writer's patternProperties/additionalProperties allowed for it.",
    "property_added",
    compatible=True,
)
def property_added_is_covered_by_partially_open_content_model(pair: PropertyPair, labels: Labels):
    if _added(pair) and pair.covered is True:
        return Finding(
            f"{pair.name!r} is covered by the {labels.writer} schema's partially open content model"
        )
    return None


@rule(
    "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
    "An added property's schema refuses values the writer's patternProperties/additionalProperties allowed for it.",
    "property_added",
    compatible=False,
    fix="Give the new property a schema that accepts everything the matching patternProperties or additionalProperties schema accepts.",
)
def property_added_not_covered_by_partially_open_content_model(pair: PropertyPair, labels: Labels):
    if _added(pair) and pair.covered is False:
        return Finding(
            f"the {labels.reader} schema's {pair.name!r} refuses values the {labels.writer} schema's "
            "patternProperties/additionalProperties allow for it"
        )
    return None


@rule(
    "PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL",
    "A property was removed where the reader's content model is open.",
    "property_removed",
    compatible=True,
)
def property_removed_from_open_content_model(pair: PropertyPair, labels: Labels):
    if _removed(pair) and pair.reader_model == "open":
        return Finding(f"the {labels.reader} schema lacks {pair.name!r} and accepts it as an extra property")
    return None


@rule(
    "PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL",
    "A property whose schema was false was removed from a closed content model.",
    "property_removed",
    compatible=True,
)
def property_with_false_removed_from_closed_content_model(pair: PropertyPair, labels: Labels):
    if _removed(pair) and pair.reader_model != "open" and pair.covered is None and pair.writer.is_false:
        return Finding(
            f"the {labels.reader} schema lacks {pair.name!r}, which the {labels.writer} schema forbade"
        )
    return None


@rule(
    "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL",
    "A property was removed where the reader's content model is closed.",
    "property_removed",
    compatible=False,
    fix="Keep the property (deprecate it in its description), or accept it through patternProperties or additionalProperties.",
)
def property_removed_from_closed_content_model(pair: PropertyPair, labels: Labels):
    if _removed(pair) and pair.reader_model != "open" and pair.covered is None and not pair.writer.is_false:
        return Finding(
            f"the {labels.reader} schema lacks {pair.name!r} but refuses extra properties that writers send"
        )
    return None


@rule(
    "PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
    "A removed property is still accepted by the reader's patternProperties/additionalProperties.",
    "property_removed",
    compatible=True,
)
def property_removed_is_covered_by_partially_open_content_model(pair: PropertyPair, labels: Labels):
    if _removed(pair) and pair.covered is True:
        return Finding(
            f"{pair.name!r} is covered by the {labels.reader} schema's partially open content model"
        )
    return None


@rule(
    "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
    "A removed property is refused by the reader's patternProperties/additionalProperties.",
    "property_removed",
    compatible=False,
    fix="Keep the property, or make the matching patternProperties/additionalProperties schema accept its values.",
)
def property_removed_not_covered_by_partially_open_content_model(pair: PropertyPair, labels: Labels):
    if _removed(pair) and pair.covered is False:
        return Finding(
            f"the {labels.reader} schema lacks {pair.name!r} and its patternProperties/additionalProperties "
            f"refuse the values the {labels.writer} schema allowed"
        )
    return None


# -- dependencies --------------------------------------------------------------------------------------


def _dependency_array(pair: DependencyPair) -> str | None:
    writer, reader = pair.writer_names, pair.reader_names
    if writer == reader or (writer is None and reader is None):
        return None
    if writer is None:
        return "ADDED"
    if reader is None:
        return "REMOVED"
    if reader > writer:
        return "EXTENDED"
    return "NARROWED" if reader < writer else "CHANGED"


def _dependency(pair: DependencyPair, expected: str, labels: Labels):
    if _dependency_array(pair) != expected:
        return None
    writer = sorted(pair.writer_names or ())
    reader = sorted(pair.reader_names or ())
    return Finding(
        f"with {pair.name!r} present, the {labels.writer} schema requires {writer or 'nothing'} and the "
        f"{labels.reader} schema {reader or 'nothing'}"
    )


_DEPENDENCY_FIX = "Do not require more properties alongside an existing one: writers may not send them."


@rule(
    "DEPENDENCY_ARRAY_ADDED",
    "A dependentRequired entry was added.",
    "dependency",
    compatible=False,
    fix=_DEPENDENCY_FIX,
)
def dependency_array_added(pair: DependencyPair, labels: Labels):
    return _dependency(pair, "ADDED", labels)


@rule("DEPENDENCY_ARRAY_REMOVED", "A dependentRequired entry was removed.", "dependency", compatible=True)
def dependency_array_removed(pair: DependencyPair, labels: Labels):
    return _dependency(pair, "REMOVED", labels)


@rule(
    "DEPENDENCY_ARRAY_EXTENDED",
    "A dependentRequired entry requires more properties.",
    "dependency",
    compatible=False,
    fix=_DEPENDENCY_FIX,
)
def dependency_array_extended(pair: DependencyPair, labels: Labels):
    return _dependency(pair, "EXTENDED", labels)


@rule(
    "DEPENDENCY_ARRAY_NARROWED",
    "A dependentRequired entry requires fewer properties.",
    "dependency",
    compatible=True,
)
def dependency_array_narrowed(pair: DependencyPair, labels: Labels):
    return _dependency(pair, "NARROWED", labels)


@rule(
    "DEPENDENCY_ARRAY_CHANGED",
    "A dependentRequired entry requires other properties.",
    "dependency",
    compatible=False,
    fix=_DEPENDENCY_FIX,
)
def dependency_array_changed(pair: DependencyPair, labels: Labels):
    return _dependency(pair, "CHANGED", labels)


@rule(
    "DEPENDENCY_SCHEMA_ADDED",
    "A dependentSchemas entry was added.",
    "dependency",
    compatible=False,
    fix="Leave the dependent schema out: data already written need not match it.",
)
def dependency_schema_added(pair: DependencyPair, labels: Labels):
    if pair.writer_schema is None and pair.reader_schema is not None:
        return Finding(f"the {labels.reader} schema has a schema that objects with {pair.name!r} must match")
    return None


@rule("DEPENDENCY_SCHEMA_REMOVED", "A dependentSchemas entry was removed.", "dependency", compatible=True)
def dependency_schema_removed(pair: DependencyPair, labels: Labels):
    if pair.writer_schema is not None and pair.reader_schema is None:
        return Finding(f"the {labels.reader} schema lacks the schema tied to {pair.name!r}")
    return None


# -- arrays --------------------------------------------------------------------------------------------

for _keyword, _prefix, _upper in (
    ("maxItems", "MAX_ITEMS", True),
    ("minItems", "MIN_ITEMS", False),
    ("maxContains", "MAX_CONTAINS", True),
    ("minContains", "MIN_CONTAINS", False),
):
    _limit_rules("array", _keyword, _prefix, _upper)


@rule(
    "UNIQUE_ITEMS_ADDED",
    "uniqueItems became true.",
    "array",
    compatible=False,
    fix="Leave uniqueItems false: writers may send repeated items.",
)
def unique_items_added(pair: SchemaPair, labels: Labels):
    if pair.reader.get("uniqueItems") is True and pair.writer.get("uniqueItems") is not True:
        return Finding(f"the {labels.reader} schema requires unique items", "uniqueItems")
    return None


@rule("UNIQUE_ITEMS_REMOVED", "uniqueItems is no longer true.", "array", compatible=True)
def unique_items_removed(pair: SchemaPair, labels: Labels):
    if pair.writer.get("uniqueItems") is True and pair.reader.get("uniqueItems") is not True:
        return Finding(f"the {labels.reader} schema allows repeated items", "uniqueItems")
    return None


_extra_rules("array", "additionalItems", "ADDITIONAL_ITEMS")
_extra_rules("array", "unevaluatedItems", "UNEVALUATED_ITEMS")


@rule(
    "SCHEMA_ADDED",
    "A schema for every item was added where there was none.",
    "slot",
    compatible=False,
    fix="Leave items unconstrained, or constrain them in a new property: writers may send any items.",
)
def schema_added(pair: SlotPair, labels: Labels):
    if pair.writer is None and pair.reader is not None and not pair.reader.is_empty:
        return Finding(f"the {labels.reader} schema has a schema for {pair.keyword}")
    return None


@rule("SCHEMA_REMOVED", "The schema for every item was removed.", "slot", compatible=True)
def schema_removed(pair: SlotPair, labels: Labels):
    if pair.writer is not None and pair.reader is None:
        return Finding(f"the {labels.reader} schema lacks the schema for {pair.keyword}")
    return None


def _item_added(pair: ItemPair) -> bool:
    return pair.writer is None and pair.reader is not None


def _item_removed(pair: ItemPair) -> bool:
    return pair.reader is None and pair.writer is not None


@rule(
    "ITEM_ADDED_TO_OPEN_CONTENT_MODEL",
    "A tuple position was added where the writer accepts any further items.",
    "item",
    compatible=False,
    fix="Writers may already send any value at that position: give the new position a schema that accepts anything, or close the tuple in the first version.",
)
def item_added_to_open_content_model(pair: ItemPair, labels: Labels):
    if _item_added(pair) and pair.writer_model == "open" and not pair.reader.is_empty:
        return Finding(f"the {labels.reader} schema constrains tuple position {pair.index}")
    return None


@rule(
    "ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL",
    "A tuple position accepting anything was added.",
    "item",
    compatible=True,
)
def item_with_empty_schema_added_to_open_content_model(pair: ItemPair, labels: Labels):
    if _item_added(pair) and pair.writer_model == "open" and pair.reader.is_empty:
        return Finding(f"the {labels.reader} schema has tuple position {pair.index} accepting anything")
    return None


@rule(
    "ITEM_ADDED_TO_CLOSED_CONTENT_MODEL",
    "A tuple position was added where the writer allowed no further items.",
    "item",
    compatible=True,
)
def item_added_to_closed_content_model(pair: ItemPair, labels: Labels):
    if _item_added(pair) and pair.writer_model == "closed":
        return Finding(f"the {labels.reader} schema has tuple position {pair.index}")
    return None


@rule(
    "ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
    "An added tuple position accepts what the writer's additional items schema allowed.",
    "item",
    compatible=True,
)
def item_added_is_covered_by_partially_open_content_model(pair: ItemPair, labels: Labels):
    if _item_added(pair) and pair.covered is True:
        return Finding(
            f"tuple position {pair.index} is covered by the {labels.writer} schema's additional items"
        )
    return None


@rule(
    "ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
    "An added tuple position refuses what the writer's additional items schema allowed.",
    "item",
    compatible=False,
    fix="Give the new tuple position a schema that accepts everything the additional items schema accepts.",
)
def item_added_not_covered_by_partially_open_content_model(pair: ItemPair, labels: Labels):
    if _item_added(pair) and pair.covered is False:
        return Finding(f"tuple position {pair.index} refuses items the {labels.writer} schema allowed there")
    return None


@rule(
    "ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL",
    "A tuple position was removed where the reader accepts any further items.",
    "item",
    compatible=True,
)
def item_removed_from_open_content_model(pair: ItemPair, labels: Labels):
    if _item_removed(pair) and pair.reader_model == "open":
        return Finding(
            f"the {labels.reader} schema lacks tuple position {pair.index} and accepts any item there"
        )
    return None


@rule(
    "ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL",
    "A tuple position whose schema was false was removed from a closed tuple.",
    "item",
    compatible=True,
)
def item_with_false_removed_from_closed_content_model(pair: ItemPair, labels: Labels):
    if _item_removed(pair) and pair.reader_model == "closed" and pair.writer.is_false:
        return Finding(f"the {labels.reader} schema lacks tuple position {pair.index}, which was false")
    return None


@rule(
    "ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL",
    "A tuple position was removed where the reader allows no further items.",
    "item",
    compatible=False,
    fix="Keep the tuple position, or accept further items (additionalItems / items after prefixItems).",
)
def item_removed_from_closed_content_model(pair: ItemPair, labels: Labels):
    if _item_removed(pair) and pair.reader_model == "closed" and not pair.writer.is_false:
        return Finding(
            f"the {labels.reader} schema lacks tuple position {pair.index} and refuses further items"
        )
    return None


@rule(
    "ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
    "A removed tuple position is still accepted by the reader's additional items schema.",
    "item",
    compatible=True,
)
def item_removed_is_covered_by_partially_open_content_model(pair: ItemPair, labels: Labels):
    if _item_removed(pair) and pair.covered is True:
        return Finding(
            f"tuple position {pair.index} is covered by the {labels.reader} schema's additional items"
        )
    return None


@rule(
    "ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
    "A removed tuple position is refused by the reader's additional items schema.",
    "item",
    compatible=False,
    fix="Keep the tuple position, or make the additional items schema accept its values.",
)
def item_removed_not_covered_by_partially_open_content_model(pair: ItemPair, labels: Labels):
    if _item_removed(pair) and pair.covered is False:
        return Finding(
            f"the {labels.reader} schema's additional items refuse what tuple position {pair.index} held"
        )
    return None


# -- not ------------------------------------------------------------------------------------------------


@rule(
    "NOT_TYPE_EXTENDED",
    "The schema under not excludes more values (or not was added).",
    "not",
    compatible=False,
    fix="Do not exclude more values with not: writers may produce them.",
)
def not_type_extended(pair: NotPair, labels: Labels):
    if pair.reader is not None and (pair.writer is None or pair.still_excludes is False):
        return Finding(f"the {labels.reader} schema's not excludes values the {labels.writer} schema allows")
    return None


@rule(
    "NOT_TYPE_NARROWED",
    "The schema under not excludes fewer values (or not was dropped).",
    "not",
    compatible=True,
)
def not_type_narrowed(pair: NotPair, labels: Labels):
    if pair.writer is not None and (pair.reader is None or pair.still_excludes is True):
        return Finding(f"the {labels.reader} schema's not excludes fewer values")
    return None


# -- allOf / anyOf / oneOf and type unions ------------------------------------------------------------------


def _both(pair: CombinedPair) -> bool:
    if pair.shape not in ("both", "types"):
        return False
    change = criteria_change(pair.writer_criterion, pair.reader_criterion, pair.writer_size, pair.reader_size)
    return change != "changed"


@rule(
    "COMBINED_TYPE_EXTENDED",
    "allOf/oneOf became anyOf (or a singleton became oneOf).",
    "combined",
    compatible=True,
)
def combined_type_extended(pair: CombinedPair, labels: Labels):
    if pair.shape == "both":
        change = criteria_change(
            pair.writer_criterion, pair.reader_criterion, pair.writer_size, pair.reader_size
        )
        if change == "extended":
            return Finding(f"{pair.writer_criterion} became {pair.reader_criterion}")
    return None


@rule(
    "COMBINED_TYPE_CHANGED",
    "The combination changed in a way that can refuse data (e.g. anyOf to oneOf or allOf).",
    "combined",
    compatible=False,
    fix="Keep the writer's allOf/anyOf/oneOf; anyOf is the only safe change.",
)
def combined_type_changed(pair: CombinedPair, labels: Labels):
    if pair.shape == "both":
        change = criteria_change(
            pair.writer_criterion, pair.reader_criterion, pair.writer_size, pair.reader_size
        )
        if change == "changed":
            return Finding(
                f"{pair.writer_criterion} in the {labels.writer} schema is {pair.reader_criterion} in the {labels.reader} schema"
            )
    return None


@rule(
    "PRODUCT_TYPE_EXTENDED",
    "allOf gained subschemas: values must match more.",
    "combined",
    compatible=False,
    fix="Do not add to allOf: data must then match a schema it was not written for.",
)
def product_type_extended(pair: CombinedPair, labels: Labels):
    if _both(pair) and pair.reader_criterion == "allOf" and pair.reader_size > pair.writer_size:
        return Finding(
            f"the {labels.reader} schema's allOf has {pair.reader_size} subschemas, not {pair.writer_size}"
        )
    if pair.shape == "reader_only" and pair.reader_criterion == "allOf" and pair.matched < pair.reader_size:
        return Finding(
            f"the {labels.reader} schema has an allOf the {labels.writer} schema's data does not match"
        )
    return None


@rule("PRODUCT_TYPE_NARROWED", "allOf lost subschemas (or was dropped).", "combined", compatible=True)
def product_type_narrowed(pair: CombinedPair, labels: Labels):
    if _both(pair) and pair.reader_criterion == "allOf" and pair.reader_size < pair.writer_size:
        return Finding(f"the {labels.reader} schema's allOf has fewer subschemas")
    if pair.shape == "writer_only" and pair.writer_criterion == "allOf" and pair.matched > 0:
        return Finding(f"the {labels.reader} schema lacks the allOf")
    return None


@rule(
    "SUM_TYPE_EXTENDED",
    "A union (anyOf, oneOf, a type list) gained alternatives.",
    "combined",
    compatible=True,
)
def sum_type_extended(pair: CombinedPair, labels: Labels):
    if _both(pair) and pair.reader_criterion in SUMS and pair.reader_size > pair.writer_size:
        return Finding(
            f"the {labels.reader} schema's union has {pair.reader_size} alternatives, not {pair.writer_size}"
        )
    if (
        pair.shape == "reader_only"
        and pair.reader_criterion in SUMS
        and pair.matched
        and pair.reader_size > 1
    ):
        return Finding(f"the {labels.reader} schema turns the type into a union that still holds it")
    if pair.shape == "writer_only" and pair.writer_criterion in SUMS and pair.matched == pair.writer_size:
        return Finding(
            f"the {labels.reader} schema accepts every alternative of the {labels.writer} schema's union"
        )
    return None


@rule(
    "SUM_TYPE_NARROWED",
    "A union (anyOf, oneOf, a type list) lost alternatives.",
    "combined",
    compatible=False,
    fix='Keep every alternative writers may produce (for nullable values keep "null").',
)
def sum_type_narrowed(pair: CombinedPair, labels: Labels):
    if _both(pair) and pair.reader_criterion in SUMS and pair.reader_size < pair.writer_size:
        return Finding(
            f"the {labels.reader} schema's union has {pair.reader_size} alternatives, not {pair.writer_size}"
        )
    if pair.shape == "writer_only" and pair.writer_criterion in SUMS and pair.matched < pair.writer_size:
        return Finding(
            f"the {labels.reader} schema reads only {pair.matched} of the {pair.writer_size} alternatives "
            f"of the {labels.writer} schema's {pair.writer_criterion}"
        )
    return None


@rule(
    "COMBINED_TYPE_SUBSCHEMAS_CHANGED",
    "The subschemas of a combination cannot be matched one to one with compatible ones.",
    "combined",
    compatible=False,
    fix="Keep each alternative of the writer's schema, changed only compatibly, and add new ones beside them.",
)
def combined_type_subschemas_changed(pair: CombinedPair, labels: Labels):
    if _both(pair) and pair.matched < min(pair.writer_size, pair.reader_size):
        return Finding(
            f"only {pair.matched} of the {pair.writer_criterion} subschemas of the {labels.writer} schema "
            f"match a compatible one in the {labels.reader} schema"
        )
    if pair.shape == "reader_only" and pair.reader_criterion in SUMS and not pair.matched:
        return Finding(
            f"no alternative of the {labels.reader} schema's {pair.reader_criterion} reads what the "
            f"{labels.writer} schema writes"
        )
    if pair.shape == "writer_only" and pair.writer_criterion == "allOf" and not pair.matched:
        return Finding(f"no subschema of the {labels.writer} schema's allOf fits the {labels.reader} schema")
    return None
