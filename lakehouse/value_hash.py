"""64-bit hashes of Arrow values, computed over a whole array at once with NumPy.

The gate's ``unique`` rules remember a hash per value (``validate.UniqueTracker``); this module
gives them without an engine: strings and binaries by two polynomials over their bytes, each
modulo a 31-bit prime with a base drawn at random when the process starts; fixed-width values by
their bits; records (composite keys) by their fields' hashes; each mixed by the splitmix64
finaliser so that every bit depends on the whole value. Equal values hash equal whatever the
array's chunking or offset, within one process (hashes are never stored); a null's hash is
arbitrary (callers skip nulls).

Why primes and secret bases: a polynomial modulo 2^64 collides for every base on inputs anyone can
build (two Thue-Morse strings of 2,048 bytes), so a sender could make the gate refuse a valid batch
as "not unique". Modulo a prime, two distinct strings of n bytes collide for at most n of the p
bases, and the sender does not know the bases.
"""

from __future__ import annotations

import hashlib
import secrets

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_BASE = 0x100000001B3  # mixes the fields of a record and the words of a 16-byte value
_PRIMES = (2_147_483_647, 2_147_483_629)  # below 2^31: products of two residues fit 64 bits
_BASES = tuple(256 + secrets.randbelow(prime - 257) for prime in _PRIMES)
_SEGMENT_BYTES = 1 << 18  # bytes hashed at once (the power tables and temporaries are 8x this)
_POWERS: list[tuple[np.ndarray, np.ndarray]] = []  # per prime: base^0.. and base^-0.., made once


def _power_table(base: int, prime: int, count: int) -> np.ndarray:
    """base^0 .. base^(count-1) modulo ``prime``, doubling the filled part at each step."""
    table = np.empty(count, np.uint64)
    table[0], filled, step = 1, 1, base % prime  # step = base^filled
    while filled < count:
        more = min(filled, count - filled)
        table[filled : filled + more] = table[:more] * np.uint64(step) % np.uint64(prime)
        filled, step = filled + more, step * step % prime
    return table


def _powers() -> list[tuple[np.ndarray, np.ndarray]]:
    if not _POWERS or len(_POWERS[0][0]) <= _SEGMENT_BYTES:
        _POWERS[:] = [
            (
                _power_table(base, prime, _SEGMENT_BYTES + 1),
                _power_table(pow(base, -1, prime), prime, _SEGMENT_BYTES + 1),
            )
            for base, prime in zip(_BASES, _PRIMES, strict=True)
        ]
    return _POWERS


def value_hashes(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """One uint64 hash per value, equal for equal values of the same type."""
    array = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    kind = array.type
    if pa.types.is_dictionary(kind):
        return value_hashes(array.dictionary_decode())
    if pa.types.is_struct(kind):
        combined = np.full(len(array), len(kind), np.uint64)
        for child in array.flatten():
            combined = _mix(combined * np.uint64(_BASE) + value_hashes(child))
        return combined
    if _is_bytes(kind):
        return _bytes_hashes(array)
    if pa.types.is_boolean(kind):
        return _mix(pc.cast(array, pa.uint8()).fill_null(0).to_numpy().astype(np.uint64))
    if pa.types.is_floating(kind):  # -0.0 equals 0.0: the sum makes it one bit pattern
        array = pc.add(array, pa.scalar(0.0, kind))
    if pa.types.is_fixed_size_binary(kind):
        return _bytes_hashes(pc.cast(array, pa.binary()))
    if _fixed_width(kind) in (8, 16, 32, 64, 128):
        return _fixed_hashes(array, _fixed_width(kind) // 8)
    raise TypeError(f"no hash for values of type {kind}")


def _fixed_width(kind: pa.DataType) -> int:
    """Bits per value of a type stored as one buffer of fixed-width values (else 0)."""
    try:
        return kind.bit_width if kind.num_buffers == 2 else 0
    except ValueError:  # lists, maps: not fixed width
        return 0


def _is_bytes(kind: pa.DataType) -> bool:
    return any(
        check(kind)
        for check in (
            pa.types.is_string,
            pa.types.is_large_string,
            pa.types.is_binary,
            pa.types.is_large_binary,
        )
    )


def _fixed_hashes(array: pa.Array, size: int) -> np.ndarray:
    """Values of 1 to 16 bytes by their bits (16-byte decimals as two 64-bit words)."""
    data = array.buffers()[1]
    words = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64, 16: np.uint64}[size]
    per_value = 2 if size == 16 else 1
    raw = np.frombuffer(data, words)[array.offset * per_value : (array.offset + len(array)) * per_value]
    if per_value == 1:
        return _mix(raw.astype(np.uint64))
    low, high = raw[0::2], raw[1::2]
    return _mix(_mix(low) * np.uint64(_BASE) + high)


def _bytes_hashes(array: pa.Array) -> np.ndarray:
    """Strings and binaries: sums of byte * base^position within the value modulo each prime, mixed
    with the length.

    Prefix sums over the bytes of a segment of values give every value's sum at once; multiplying
    by the inverse power of the value's start makes it independent of where the value lies.
    """
    large = pa.types.is_large_string(array.type) or pa.types.is_large_binary(array.type)
    offsets = np.frombuffer(array.buffers()[1], np.int64 if large else np.int32)
    offsets = offsets[array.offset : array.offset + len(array) + 1].astype(np.int64)
    data = array.buffers()[2]
    data = np.frombuffer(data, np.uint8) if data is not None else np.zeros(0, np.uint8)
    hashes = np.empty(len(array), np.uint64)
    first = 0
    while first < len(array):
        # the values whose bytes fit one segment (at least one value, however long)
        last = max(first + 1, int(np.searchsorted(offsets, offsets[first] + _SEGMENT_BYTES, "right")) - 1)
        last = min(last, len(array))
        start, end = offsets[first], offsets[last]
        if end - start > _SEGMENT_BYTES:  # one value longer than a segment: hashed on its own
            digest = hashlib.blake2b(data[start:end].tobytes(), digest_size=8).digest()
            hashes[first] = _mix(np.frombuffer(digest, np.uint64) ^ np.uint64(end - start))[0]
        else:
            hashes[first:last] = _segment_hashes(data[start:end], offsets[first : last + 1] - start)
        first = last
    return hashes


def _segment_hashes(data: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    count = len(data)
    starts, ends = offsets[:-1], offsets[1:]
    combined = np.zeros(len(starts), np.uint64)
    for (powers, inverse), prime in zip(_powers(), _PRIMES, strict=True):
        # byte * base^position < 2^39, so a segment's prefix sums (2^18 terms) stay below 2^57
        prefix = np.empty(count + 1, np.uint64)  # not zeros: a fresh 2 MiB page run each time
        prefix[0] = 0
        np.cumsum(np.multiply(data, powers[:count], dtype=np.uint64), out=prefix[1:])
        modulus = np.uint64(prime)
        sums = (prefix[ends] - prefix[starts]) % modulus * inverse[starts] % modulus
        combined = (combined << np.uint64(31)) | sums
    return _mix(combined ^ _mix(ends - starts).astype(np.uint64))


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: every output bit depends on every input bit."""
    z = values.astype(np.uint64, copy=True)
    z ^= z >> np.uint64(30)
    z *= np.uint64(0xBF58476D1CE4E5B9)
    z ^= z >> np.uint64(27)
    z *= np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    return z
