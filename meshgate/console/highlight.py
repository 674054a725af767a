"""Schema text as syntax-highlighted HTML, one line at a time (pygments), so pages can mark lines.

Each line is escaped and wrapped in pygments' short CSS classes; a token spanning lines (a comment,
a doc string) is split at its line breaks, so no tag is left open across a line.
"""

from __future__ import annotations

import functools

from markupsafe import Markup, escape
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.token import STANDARD_TYPES

CSS_SCOPE = ".hl"
# A registry format name -> the pygments lexer of its schema text.
LEXERS = {"AVRO": "json", "JSON": "json", "PROTOBUF": "protobuf"}


def highlighted_lines(text: str, format_name: str) -> list[Markup]:
    """``text`` (a schema of ``format_name``) as one escaped, highlighted HTML fragment per line."""
    return _lines(text, LEXERS.get(format_name, "text"))


def highlighted_sql(text: str) -> list[Markup]:
    """A dbt model's SQL, highlighted the same way."""
    return _lines(text, "sql+jinja")


def _lines(text: str, lexer_name: str) -> list[Markup]:
    lexer = get_lexer_by_name(lexer_name, stripnl=False, ensurenl=False)
    lines: list[list[str]] = [[]]
    for token_type, value in lexer.get_tokens(text):
        css = _css_class(token_type)
        for i, piece in enumerate(value.split("\n")):
            if i:
                lines.append([])
            if piece:
                lines[-1].append(f'<span class="{css}">{escape(piece)}</span>' if css else str(escape(piece)))
    if len(lines) > 1 and not lines[-1] and text.endswith("\n"):
        lines.pop()
    return [Markup("".join(parts)) for parts in lines]


def _css_class(token_type) -> str:
    while token_type not in STANDARD_TYPES:
        token_type = token_type.parent
    return STANDARD_TYPES[token_type]


@functools.cache
def stylesheet() -> str:
    """Pygments' colours for the classes above, scoped to ``.hl``."""
    return HtmlFormatter(style="default").get_style_defs(CSS_SCOPE)
