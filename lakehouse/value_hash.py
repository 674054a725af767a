"""64-bit hashes of Arrow values, computed over a whole array at once with NumPy.

The gate's ``unique`` rules remember a hash per value (``validate.UniqueTracker``); this module
gives them without an engine: strings and binaries by a polynomial over their bytes, fixed-width
values by their bits, records (composite keys) by their fields' hashes, each mixed by the
splitmix64 finaliser so that every bit, the top ones included, depends on the whole value. Equal
values hash equal whatever the array's chunking or offset; a null's hash is arbitrary (callers
skip nulls). The polynomial is modulo 2^64, which specially built inputs can make collide; for
the values APIs send, two distinct values share a hash about once in 10^6 at 5 million values.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_BASE = 0x100000001B3  # odd, so it has an inverse modulo 2^64
_INVERSE = pow(_BASE, -1, 2**64)
_SEGMENT_BYTES = 1 << 18  # bytes hashed at once (the power tables and temporaries are 8x this)
_POWERS: list[np.ndarray] = []  # BASE^1 .. BASE^segment and BASE^-0 .. BASE^-segment, made once


def _powers() -> tuple[np.ndarray, np.ndarray]:
    if not _POWERS or len(_POWERS[0]) < _SEGMENT_BYTES:
        inverse = np.ones(_SEGMENT_BYTES + 1, np.uint64)
        inverse[1:] = np.cumprod(np.full(_SEGMENT_BYTES, _INVERSE, np.uint64))
        _POWERS[:] = [np.cumprod(np.full(_SEGMENT_BYTES, _BASE, np.uint64)), inverse]
    return _POWERS[0], _POWERS[1]


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
    """Strings and binaries: sum of byte * BASE^position within the value, mixed with the length.

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
    powers, inverse = _powers()  # modulo 2^64
    prefix = np.zeros(count + 1, np.uint64)
    np.cumsum(np.multiply(data, powers[:count], dtype=np.uint64), out=prefix[1:])
    starts, ends = offsets[:-1], offsets[1:]
    sums = (prefix[ends] - prefix[starts]) * inverse[starts]
    return _mix(sums ^ _mix(ends - starts).astype(np.uint64))


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: every output bit depends on every input bit."""
    z = values.astype(np.uint64, copy=True)
    z ^= z >> np.uint64(30)
    z *= np.uint64(0xBF58476D1CE4E5B9)
    z ^= z >> np.uint64(27)
    z *= np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    return z
