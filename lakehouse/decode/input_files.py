"""Batch files opened as plain byte streams: local or S3, gzip/zstd recognised by magic bytes.

Read errors of a damaged file (a truncated gzip or zstd stream) surface as ``InvalidBatch`` with the
decompressed byte offset where reading stopped. A ``BytesRead`` meter counts the bytes taken from
storage (compressed bytes for a compressed file), for progress displays.
"""

from __future__ import annotations

import gzip
import io
import os
import zlib
from typing import BinaryIO

import zstandard

from lakehouse.errors import InvalidBatch

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
COMPRESSION_SUFFIXES = {".gz": "gzip", ".gzip": "gzip", ".zst": "zstd", ".zstd": "zstd"}


class BytesRead:
    """Bytes of a batch's files read from storage so far, against their total size.

    ``open_input`` tells the meter each file it opens; ``count`` is the bytes of the files before it
    plus the position in the current one (as stored: a gzip file counts its compressed bytes).
    ``total`` is known up front for local files and S3 objects that exist (0 when none is).
    """

    def __init__(self, paths: list[str], storage_options: dict | None = None):
        self.total = sum(_stored_size(path, storage_options) for path in paths)
        self._before = 0  # bytes of the files already finished
        self._current, self._current_size = None, 0  # the raw stream of the file being read

    def opened(self, raw) -> None:
        self._before = self.count
        self._current, self._current_size = raw, _size_of(raw)

    @property
    def count(self) -> int:
        if self._current is None:
            return self._before
        try:
            return self._before + self._current.tell()
        except (OSError, ValueError):  # closed: read to its end, or given up on
            return self._before + self._current_size


def _stored_size(path: str, storage_options: dict | None) -> int:
    """A file's size as stored; 0 when it cannot be read (decoding names the problem)."""
    try:
        if path.startswith("s3://"):
            info = _s3_filesystem(storage_options or {}).get_file_info(path.removeprefix("s3://"))
            return max(info.size or 0, 0)
        return os.path.getsize(path)
    except (OSError, ValueError):
        return 0


def _size_of(raw) -> int:
    """The size of an open local file or S3 object."""
    try:
        return raw.size() if callable(getattr(raw, "size", None)) else os.fstat(raw.fileno()).st_size
    except (OSError, ValueError):
        return 0


def open_input(path: str, storage_options: dict | None = None, meter: BytesRead | None = None) -> BinaryIO:
    """A readable, decompressed byte stream of a local path or ``s3://bucket/key``.

    Compression is recognised by magic bytes. A name ending in ``.gz``/``.zst`` whose content is
    not compressed that way is refused rather than guessed. ``storage_options`` take pyiceberg's
    keys: ``s3.endpoint`` (``http://127.0.0.1:9000``), ``s3.access-key-id``,
    ``s3.secret-access-key``, ``s3.session-token``, ``s3.region``. Read errors (a truncated gzip or
    zstd stream) surface as ``InvalidBatch`` with the decompressed byte offset. ``meter`` counts
    the bytes read from storage.
    """
    raw = _open_raw(path, storage_options)
    try:
        found = _compression(raw, path)
    except BaseException:
        raw.close()
        raise
    if meter is not None:
        meter.opened(raw)
    inner: BinaryIO = raw
    if found == "gzip":
        inner = gzip.GzipFile(fileobj=raw, mode="rb")
    elif found == "zstd":
        inner = _ZstdReader(raw)
    return io.BufferedReader(_CheckedReader(inner, raw, path, found), buffer_size=1024 * 1024)


def _compression(raw, path: str) -> str | None:
    """``gzip``, ``zstd`` or None, from the first bytes; a name promising another is refused."""
    try:
        head = raw.read(4)
        raw.seek(0)
    except OSError as exc:
        raise InvalidBatch(f"cannot read: {exc}", file=path) from None
    found = "gzip" if head[:2] == GZIP_MAGIC else "zstd" if head == ZSTD_MAGIC else None
    named = COMPRESSION_SUFFIXES.get(suffix(path))
    if named and named != found:
        raise InvalidBatch(
            f"the name says {named} but the content is not {named}-compressed "
            f"(it starts with bytes {head.hex() or 'none: the file is empty'})",
            file=path,
            byte_offset=0,
        )
    return found


def _open_raw(path: str, storage_options: dict | None):
    try:
        if path.startswith("s3://"):
            return _s3_filesystem(storage_options or {}).open_input_file(path.removeprefix("s3://"))
        return open(path, "rb")  # noqa: SIM115 - the caller owns the stream
    except (OSError, ValueError) as exc:
        raise InvalidBatch(f"cannot open: {exc}", file=path) from None


def _s3_filesystem(options: dict):
    from pyarrow import fs

    endpoint = options.get("s3.endpoint")
    scheme = "https"
    if endpoint and "://" in endpoint:
        scheme, endpoint = endpoint.split("://", 1)
    return fs.S3FileSystem(
        access_key=options.get("s3.access-key-id"),
        secret_key=options.get("s3.secret-access-key"),
        session_token=options.get("s3.session-token"),
        region=options.get("s3.region", "us-east-1"),
        endpoint_override=endpoint,
        scheme=scheme,
    )


def suffix(path: str) -> str:
    name = path.rsplit("/", 1)[-1].lower()
    return "." + name.rsplit(".", 1)[1] if "." in name else ""


class _ZstdReader(io.RawIOBase):
    """A zstd stream that, unlike zstandard's stream_reader, notices a truncated last frame."""

    def __init__(self, raw):
        self._raw = raw
        self._decompressor = zstandard.ZstdDecompressor()
        self._frame = self._decompressor.decompressobj()
        self._buffer = memoryview(b"")  # decompressed bytes not yet handed out
        self._started = False

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        while not self._buffer:
            data = self._raw.read(1024 * 1024)
            if not data:
                if self._started and not self._frame.eof:
                    raise EOFError("zstd stream ends in the middle of a frame (truncated file)")
                return 0
            self._buffer = memoryview(self._decompress(data))
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]  # a view: the rest is not copied
        return size

    def _decompress(self, data: bytes) -> bytes:
        pieces = []
        while data:
            if self._frame.eof:
                self._frame = self._decompressor.decompressobj()
            self._started = True
            pieces.append(self._frame.decompress(data))
            data = self._frame.unused_data if self._frame.eof else b""
        return b"".join(pieces)


class _CheckedReader(io.RawIOBase):
    """Turns decompression and I/O failures into ``InvalidBatch`` at the decompressed byte offset."""

    def __init__(self, inner, raw, path: str, compression: str | None):
        self._inner = inner
        self._raw = raw  # closed with the decompressor: GzipFile leaves its fileobj open
        self._path = path
        self._compression = compression
        self.offset = 0

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        """Decompressed bytes read so far: the stream is not seekable, but its position is known."""
        return self.offset

    def readinto(self, target) -> int:
        try:
            size = self._inner.readinto(target)
        except (EOFError, OSError, zlib.error, zstandard.ZstdError) as exc:
            what = f"{self._compression} data" if self._compression else "file"
            raise InvalidBatch(
                f"{what} cannot be read: {exc}", file=self._path, byte_offset=self.offset
            ) from None
        self.offset += size
        return size

    def close(self) -> None:
        self._inner.close()
        self._raw.close()
        super().close()
