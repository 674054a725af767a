"""value_hash: equal values hash equal whatever the array's layout; distinct values hash apart."""

from __future__ import annotations

import datetime
import decimal

import numpy as np
import pyarrow as pa
import pytest

import lakehouse.value_hash as value_hash
from lakehouse.value_hash import value_hashes

WORDS = pa.array(["x", "yy", "", None, "zzz", "yy", "ab", "ba", "abc" * 50])


def test_strings_hash_by_value_whatever_the_slice_chunks_or_offset_width():
    full = value_hashes(WORDS)
    assert full[1] == full[5]  # "yy" twice
    assert len({int(h) for i, h in enumerate(full) if i not in (3, 5)}) == 7  # "ab" and "ba" apart
    assert (value_hashes(WORDS.slice(4)) == full[4:]).all()
    assert (value_hashes(pa.chunked_array([WORDS.slice(0, 3), WORDS.slice(3)])) == full).all()
    assert (value_hashes(WORDS.cast(pa.large_string())) == full).all()


def test_segments_do_not_change_hashes_and_longer_values_hash_alike(monkeypatch):
    whole = value_hashes(WORDS)
    monkeypatch.setattr(value_hash, "_SEGMENT_BYTES", 8)  # a few values a segment
    monkeypatch.setattr(value_hash, "_POWERS", [])
    small = value_hashes(WORDS)
    assert (small[:8] == whole[:8]).all()
    longer = value_hashes(pa.array(["abc" * 50, "x", "abc" * 50, "abc" * 51]))  # each beyond a segment
    assert longer[0] == longer[2] and longer[0] != longer[3] and longer[1] == whole[0]


def test_a_million_distinct_strings_have_distinct_hashes():
    hashes = value_hashes(pa.array([f"ev-{i:09d}" for i in range(1_000_000)]))
    assert len(np.unique(hashes)) == 1_000_000


@pytest.mark.parametrize(
    "values",
    [
        pa.array([1, 2, 1, 3], pa.int64()),
        pa.array([1, 2, 1, 3], pa.int32()),
        pa.array([0.0, 1.5, -0.0, 2.5]),
        pa.array([True, False, True, None]),
        pa.array([decimal.Decimal(v) for v in ("1.10", "2.20", "1.10", "3.30")], pa.decimal128(10, 2)),
        pa.array([datetime.date(2020, 1, d) for d in (1, 2, 1, 3)]),
        pa.array([b"a", b"bb", b"a", b"c"], pa.binary()),
        pa.array([b"aa", b"bb", b"aa", b"cc"], pa.binary(2)),
        pa.StructArray.from_arrays(
            [pa.array(["a", "b", "a", "a"]), pa.array([1, 1, 1, 2])], names=["k0", "k1"]
        ),
    ],
    ids=lambda values: str(values.type),
)
def test_fixed_width_values_and_records_hash_by_value(values):
    hashes = value_hashes(values)
    assert hashes[0] == hashes[2] and hashes[0] != hashes[1]
    assert (value_hashes(values.slice(1)) == hashes[1:]).all()


def test_a_type_without_a_hash_is_named():
    with pytest.raises(TypeError, match="no hash for values of type list"):
        value_hashes(pa.array([[1], [2]]))


def test_strings_built_to_collide_modulo_two_to_the_64_hash_apart():
    """Two Thue-Morse strings (2,048 bytes, one the other with a and b swapped) make every polynomial
    hash modulo 2^64 collide, whatever its base: a sender could have a valid batch refused as "not
    unique". Modulo the primes, with bases drawn at start, they hash apart."""
    morse = [bin(i).count("1") % 2 for i in range(2**11)]
    first, second = ("".join(letters[bit] for bit in morse) for letters in ("ab", "ba"))
    hashes = value_hashes(pa.array([first, second, first]))
    assert first != second and hashes[0] != hashes[1] and hashes[0] == hashes[2]
