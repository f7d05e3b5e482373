"""Remote files: ``http(s)://`` and ``s3://`` URLs streamed through fsspec, reading only the byte ranges asked for.

This is how DANDI users read NWB files without downloading them (the DANDI handbook's "streaming" recipe): an
fsspec ``HTTPFileSystem`` file with a block cache is handed to ``h5py.File`` as a Python file object; h5py asks
for the byte ranges it needs (superblock, object headers, the slices of the datasets read) and each missing
block of :data:`BLOCK_SIZE` bytes is fetched with one HTTP ``Range`` request. Reading 10 units of a 600-unit
session therefore fetches the metadata and those units' spike times, not the file (tests/test_cohort_load.py
counts the bytes a local Range server sends).

- ``http://``, ``https://``: fsspec's ``HTTPFileSystem`` (aiohttp; declared in the default install).
- ``s3://bucket/key``: through ``s3fs`` when it is installed (credentials, private buckets); otherwise as the
  bucket's public HTTPS address, ``https://bucket.s3.amazonaws.com/key`` (DANDI's bucket is public), or
  ``{endpoint}/bucket/key`` when ``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL`` names another S3 service.
- other fsspec protocols (``file://``, ``memory://``, ...): fsspec's own filesystem.

Faults get neurosuper errors: a missing object (HTTP 404/403) is a :class:`~neurosuper.FormatError` ("found no
such file"); a server that gives no size or ignores ``Range`` is refused (HDF5 must seek) with the fix "download
it first"; a connection that drops or times out while reading is a :class:`RemoteReadError` naming the URL, the
byte range and the cause. Nothing is retried here: under :func:`neurosuper.load_cohort` a failed session is
reported (and dask can be told to retry tasks).
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

from ..errors import FormatError, NeurosuperError, NWBLayoutError

__all__ = ["BLOCK_SIZE", "RemoteReadError", "is_url", "open_url", "resolve_url", "url_info"]

#: Bytes fetched per HTTP Range request (fsspec block cache). 2 MiB: a subset read fetches little beyond what it
#: needs, and a whole 3 GB session is ~1,500 requests.
BLOCK_SIZE = 2**21


class RemoteReadError(NeurosuperError, OSError):
    """A remote file could not be read to the end: the connection dropped, timed out or the server failed."""


def is_url(path: str | os.PathLike[str]) -> bool:
    """True for ``scheme://...`` paths (``https://``, ``s3://``, ``file://``); these are opened through fsspec."""
    return isinstance(path, str) and "://" in path[:16]


def _have_s3fs() -> bool:
    import importlib.util

    return importlib.util.find_spec("s3fs") is not None


def resolve_url(url: str) -> str:
    """The URL fsspec opens: ``s3://bucket/key`` becomes the bucket's public HTTPS address when ``s3fs`` is not
    installed (``{AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL}/bucket/key`` when either is set); others unchanged."""
    if not url.startswith("s3://") or _have_s3fs():
        return url
    bucket, _, key = url[len("s3://") :].partition("/")
    if not bucket or not key:
        raise FormatError(
            f"path {url!r}: found an S3 URL without a bucket and key; expected s3://bucket/path/to/file.nwb. "
            "Fix: give the object's full S3 URL."
        )
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        return f"{endpoint.rstrip('/')}/{bucket}/{key}"
    return f"https://{bucket}.s3.amazonaws.com/{key}"


def _filesystem(url: str) -> tuple[Any, str]:
    """(fsspec filesystem, protocol) for ``url`` (already resolved)."""
    try:
        import fsspec
    except ImportError:  # pragma: no cover - fsspec is a dependency
        raise NWBLayoutError(
            f"path {url!r}: found a URL but fsspec is not installed; expected fsspec for remote reading. "
            "Fix: pip install 'fsspec[http]' (or download the file)."
        ) from None
    protocol = url.split("://", 1)[0].lower()
    try:
        fs = fsspec.filesystem(protocol)
    except (ImportError, ValueError) as err:
        raise NWBLayoutError(
            f"path {url!r}: fsspec cannot serve protocol {protocol!r} ({err}); expected an "
            "installed fsspec backend. Fix: install it (https needs aiohttp, s3 needs s3fs or a public bucket)."
        ) from None
    return fs, protocol


def _status(err: BaseException) -> int | None:
    """The HTTP status behind an fsspec/aiohttp error, if any."""
    for e in (err, err.__cause__, err.__context__):
        status = getattr(e, "status", None) or getattr(e, "code", None)
        if isinstance(status, int):
            return status
    return None


def _missing(url: str, shown: str, detail: str) -> FormatError:
    where = f" (read as {url!r})" if url != shown else ""
    return FormatError(
        f"path {shown!r}{where}: found no such file ({detail}); expected an NWB file. Fix: check the URL "
        "(and that the object is public, or install s3fs and set credentials)."
    )


def _refuse_streaming(shown: str, err: BaseException) -> FormatError:
    return FormatError(
        f"path {shown!r}: found a server that only streams the file ({err}: it gives no size or ignores HTTP "
        "Range requests, and HDF5 must seek); expected a URL that allows random access (DANDI, S3 and most file "
        f"hosts do). Fix: download it first (e.g. curl -LO {shown!r}) and pass the local path."
    )


def dropped(shown: str, err: BaseException, where: str = "") -> RemoteReadError:
    """The error for a read that failed half-way (connection dropped, timeout, server error)."""
    return RemoteReadError(
        f"path {shown!r}: the connection failed while reading{where} ({type(err).__name__}: {err}); expected "
        "the server to send the bytes asked for. Fix: retry (the server or network may be busy); if it keeps "
        f"failing, download the file first (e.g. curl -LO {shown!r}) and pass the local path."
    )


class _Guarded:
    """A read-only file object around an fsspec file that turns transport failures into :class:`RemoteReadError`
    (h5py calls ``read``/``readinto``/``seek`` from C and would report them as a bare ``OSError``); the first
    failure is kept in ``failure`` so the caller can re-raise it with the URL once h5py gives up."""

    def __init__(self, fobj: Any, shown: str) -> None:
        self._f = fobj
        self._shown = shown
        self.failure: RemoteReadError | FormatError | None = None

    def _guard(self, what: str, call: Any, *args: Any) -> Any:
        try:
            return call(*args)
        except (FormatError, RemoteReadError):
            raise
        except ValueError as err:  # fsspec: "server doesn't appear to support range requests"
            if "range" in str(err).lower() or "seek" in str(err).lower():
                self.failure = _refuse_streaming(self._shown, err)
                raise self.failure from None
            raise
        except FileNotFoundError as err:
            self.failure = _missing(self._shown, self._shown, f"{err}")
            raise self.failure from None
        except Exception as err:  # aiohttp ClientError, asyncio/fsspec timeouts, OSError, ...
            self.failure = dropped(self._shown, err, f" {what}")
            raise self.failure from err

    def read(self, n: int = -1) -> bytes:
        pos = self._f.tell()
        data: bytes = self._guard(f"bytes {pos}..{pos + n if n >= 0 else 'end'}", self._f.read, n)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(memoryview(buffer).cast("B")))
        memoryview(buffer).cast("B")[: len(data)] = data
        return len(data)

    def seek(self, loc: int, whence: int = 0) -> int:
        return int(self._guard("(seek)", self._f.seek, loc, whence))

    def tell(self) -> int:
        return int(self._f.tell())

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    def flush(self) -> None:
        pass

    @property
    def closed(self) -> bool:
        return bool(getattr(self._f, "closed", False))

    def close(self) -> None:
        self._f.close()

    @property
    def size(self) -> int | None:
        return getattr(self._f, "size", None)


def open_url(url: str, stack: contextlib.ExitStack, *, block_size: int = BLOCK_SIZE) -> _Guarded:
    """Open ``url`` for random-access reading (closed by ``stack``); the object has ``read``/``seek``/``tell``
    and ``failure`` (the first transport error, for the caller to re-raise once h5py gives up).

    Raises
    ------
    FormatError
        No such object (404/403), or a server that only streams (no size, no Range requests).
    NWBLayoutError
        No fsspec backend for the protocol.
    RemoteReadError
        The connection failed while opening.
    """
    shown = url
    url = resolve_url(url)
    fs, protocol = _filesystem(url)
    kwargs: dict[str, Any] = {}
    if protocol in ("http", "https"):
        kwargs = {"cache_type": "blockcache", "block_size": block_size}
    try:
        fobj = stack.enter_context(fs.open(url, "rb", **kwargs))
    except FileNotFoundError as err:
        cause = err.__cause__ or err.__context__
        if isinstance(cause, OSError):  # aiohttp's ClientConnectorError is an OSError
            # fsspec's HTTP backend reports a refused or failed connection as FileNotFoundError: not a 404
            raise RemoteReadError(
                f"path {shown!r}: could not connect to the server ({type(cause).__name__}: {cause}); expected a "
                "server that answers. Fix: check the host and port of the URL and that the server is up, or "
                "download the file and pass the local path."
            ) from None
        raise _missing(url, shown, "HTTP 404" if url.startswith("http") else str(err)) from None
    except PermissionError as err:
        raise _missing(url, shown, f"access denied: {err}") from None
    except Exception as err:
        status = _status(err)
        if status in (403, 404, 410):
            raise _missing(url, shown, f"HTTP {status}") from None
        raise dropped(shown, err, " its size") from err
    guarded = _Guarded(fobj, shown)
    if protocol in ("http", "https") and not getattr(fobj, "size", None):
        raise _refuse_streaming(shown, ValueError("Cannot seek streaming HTTP file"))
    return guarded


def url_info(url: str) -> dict[str, Any]:
    """``{"path": url, "size", "etag"?}`` of a remote file (one HEAD request; no content read). The content is
    not hashed (that would download it): ``sha256`` is ``None``; the server's ETag, when sent, identifies the
    version (S3's and DANDI's ETag is the MD5 of the object or of its parts)."""
    out: dict[str, Any] = {"path": url, "sha256": None}
    try:
        fs, _ = _filesystem(resolve_url(url))
        info = fs.info(resolve_url(url))
    except Exception:  # provenance is best effort; the read itself reports errors
        return out
    if info.get("size") is not None:
        out["size"] = int(info["size"])
    etag = info.get("ETag") or info.get("etag")
    if etag:
        out["etag"] = str(etag).strip('"')
    return out
