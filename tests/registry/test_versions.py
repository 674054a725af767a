"""One parser of version arguments for the service and both servers: ``latest``, ``-1`` or 1…2³¹−1."""

from __future__ import annotations

import pytest

from registry.errors import InvalidArgument
from registry.versions import MAX_VERSION, parse_version


@pytest.mark.parametrize("latest", ["latest", -1, "-1"])
def test_latest_and_minus_one_name_the_latest_version(latest):
    assert parse_version(latest) is None


@pytest.mark.parametrize(("given", "number"), [(1, 1), ("7", 7), (MAX_VERSION, MAX_VERSION)])
def test_numbers_and_their_ascii_digits_are_versions(given, number):
    assert parse_version(given) == number


@pytest.mark.parametrize("bad", [0, -2, MAX_VERSION + 1, "0", " 5", "+5", "²", "٣", "abc", True, 2.0, None])
def test_anything_else_is_an_invalid_argument_naming_the_value(bad):
    with pytest.raises(InvalidArgument, match="not a valid version") as refused:
        parse_version(bad)
    assert repr(bad) in refused.value.message
