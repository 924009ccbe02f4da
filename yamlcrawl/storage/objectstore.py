"""Downloaded files kept in an object store (``output.dir: s3://bucket/prefix``, any fsspec URL).

The design, kept simple and safe:

- Only the downloaded files go to the store. The run's own files (the lock, the resume state,
  the page cache, parts kept, temporaries, the manifest and the emitted records) stay where
  the coordinator runs, in a local folder derived from the URL:
  ``./.yamlcrawl-store/<scheme>/<bucket>/<prefix>`` under the current folder
  (:func:`split_output`). That folder is the run's ``plan.output.dir``, so everything that
  already works on a folder works unchanged; ``plan.output.store`` holds the URL.
- Names are settled by the coordinator as for a folder, and are the same safe relative names
  (no ``..``, nothing absolute): a file's key is ``<prefix>/<name>``.
- A worker streams a body to a temporary file on its own disk (the system's temporary
  folder), and uploads it whole when it is complete: one PUT, or a multipart upload for a
  large file, so an object appears only complete, never part-way under its key.
- Each object carries its SHA-256 as metadata (``x-amz-meta-sha256`` on S3): a rerun checks
  size and SHA-256 with one HEAD request, and fetches again a file whose object differs.
  An object without it (put there by something else) is read once to hash it.
- Credentials and the endpoint come from the environment and the AWS configuration, as
  botocore reads them (``AWS_ACCESS_KEY_ID``, ``AWS_PROFILE``, ``~/.aws``,
  ``AWS_ENDPOINT_URL``...): never from the crawl file, never shown. A URL carrying
  credentials is refused.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import sys
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any, Protocol
from urllib.parse import urlsplit

from yamlcrawl.storage.outdir import FolderError, temporary_name

STORE_STATE = ".yamlcrawl-store"  # under the current folder: the run's own files of a store
_READ = 1 << 20
# Object stores whose metadata holds the SHA-256 (the S3 protocol's user metadata).
_S3_SCHEMES = frozenset({"s3", "s3a"})
_EXTRA = "pip install 'yamlcrawl[s3]'"


class Store(Protocol):
    """Where whole downloaded files are kept (a folder is today's default, needing none)."""

    def present(self, path: str, expect: tuple[int, str] | None) -> tuple[int, str] | None:
        """``(size, sha256)`` of the file saved under ``path``, or None when it is missing or
        differs from ``expect`` (its size and SHA-256 recorded by an earlier run)."""
        ...

    def temporary(self) -> Path:
        """A new local path to write a body to until it is whole."""
        ...

    def put(self, temporary: Path, path: str, sha256: str, content_type: str | None) -> None:
        """Make the whole file ``temporary`` the store's ``path``, at once (it is then gone)."""
        ...


def is_store_url(text: str) -> bool:
    """Whether ``output.dir`` names an object store (a URL other than ``file://``)."""
    scheme = urlsplit(text).scheme
    return len(scheme) > 1 and scheme != "file"


def store_problem(text: str) -> str | None:
    """Why ``text`` (an ``output.dir`` URL) cannot be used as an object store, or None."""
    parts = urlsplit(text)
    if "@" in parts.netloc:
        return (
            "carries credentials — expected a URL such as s3://bucket/prefix, with credentials"
            " in the environment or the AWS configuration"
        )
    if not parts.netloc:
        return "names no bucket — expected a URL such as s3://bucket/prefix"
    if any(part in (".", "..") for part in parts.path.split("/")):
        return "has '.' or '..' in its path — expected a URL such as s3://bucket/prefix"
    if parts.query or parts.fragment:
        return "has a query or fragment — expected a URL such as s3://bucket/prefix"
    return None


def shown_url(text: str) -> str:
    """``text`` without the credentials a URL may carry (``user:secret@``), to be shown."""
    parts = urlsplit(text)
    if "@" not in parts.netloc:
        return text
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def unknown_scheme(text: str) -> str | None:
    """Why this installation cannot write to ``text``'s store (a missing extra), or None."""
    scheme = urlsplit(text).scheme
    try:
        import fsspec
    except ImportError:
        return f"needs fsspec for {scheme}:// — {_EXTRA}"
    try:
        fsspec.get_filesystem_class(scheme)
    except ValueError:
        return f"has the unknown storage scheme '{scheme}'"
    except ImportError:
        return f"needs a library for {scheme}:// that is not installed — {_EXTRA}"
    return None


def split_output(text: str) -> tuple[str, str | None]:
    """``(local folder, store URL or None)`` for an ``output.dir`` (or ``--output``).

    A plain path and a ``file://`` URL are a folder, as always; a store's run keeps its own
    files in ``.yamlcrawl-store/<scheme>/<bucket>/<prefix>`` under the current folder.
    """
    if not is_store_url(text):
        return text.removeprefix("file://"), None
    parts = urlsplit(text)
    path = parts.path.strip("/")
    url = f"{parts.scheme}://{parts.netloc}" + (f"/{path}" if path else "")
    local = PurePosixPath(STORE_STATE, parts.scheme, parts.netloc, *filter(None, path.split("/")))
    return str(local), url


def open_store(url: str) -> FsspecStore:
    """The store at ``url`` (one per process, URL and endpoint: its connections are kept)."""
    key = (url, _endpoint())
    store = _opened.get(key)
    if store is None or store.pid != os.getpid():
        store = _opened[key] = FsspecStore(url)
    return store


_opened: dict[tuple[str, str | None], FsspecStore] = {}


def _after_fork() -> None:
    """In a forked worker: forget the parent's stores, and fsspec's event loop, whose thread
    was not forked (fsspec before 2024.10 does not do it itself: a worker would wait forever
    on the parent's loop, after the coordinator checked the store)."""
    _opened.clear()
    asyn = sys.modules.get("fsspec.asyn")
    if asyn is not None:
        asyn.reset_lock()  # its loop, its thread and its lock


os.register_at_fork(after_in_child=_after_fork)


def check_store(url: str) -> None:
    """Make sure, once before a run, that the store at ``url`` can be used.

    Raises:
        FolderError: it cannot (the bucket is missing, access is refused, no credentials,
            the endpoint does not answer): one line, the run does not start.
    """
    try:
        open_store(url).check()
    except Exception as exc:
        raise FolderError(f"cannot use the output {url}: {_reason(exc)}") from None


class FsspecStore:
    """Files in a store fsspec reaches (S3 through s3fs, and any other fsspec URL)."""

    def __init__(self, url: str) -> None:
        """The store at ``url`` (``scheme://bucket/prefix``); it is reached at first use."""
        import fsspec

        self.url = url
        self.pid = os.getpid()
        self._scheme = urlsplit(url).scheme
        options: dict[str, Any] = {}
        endpoint = _endpoint() if self._scheme in _S3_SCHEMES else None
        if endpoint:
            options["endpoint_url"] = endpoint  # also told apart in fsspec's instance cache
        self._fs, self._root = fsspec.core.url_to_fs(url, **options)
        self._folder: Path | None = None  # made when the first body begins

    def _key(self, path: str) -> str:
        return f"{self._root.rstrip('/')}/{path}"

    def present(self, path: str, expect: tuple[int, str] | None) -> tuple[int, str] | None:
        """See :meth:`Store.present`: one HEAD request on S3, the object read only when it has
        no SHA-256 recorded."""
        key = self._key(path)
        try:
            size, recorded = self._size_and_recorded(key)
        except FileNotFoundError:
            return None
        except Exception as exc:
            raise _store_error(self.url, "look for", path, exc) from None
        if expect is not None and size != expect[0]:
            return None  # damaged, or another file
        if recorded is None:
            try:
                recorded = self._hash(key)
            except Exception as exc:
                raise _store_error(self.url, "read", path, exc) from None
        if expect is not None and recorded != expect[1]:
            return None
        return size, recorded

    def _size_and_recorded(self, key: str) -> tuple[int, str | None]:
        if self._scheme in _S3_SCHEMES:
            bucket, name, _ = self._fs.split_path(key)
            head = self._fs.call_s3("head_object", Bucket=bucket, Key=name)  # 404: missing
            metadata = head.get("Metadata") or {}
            return int(head["ContentLength"]), metadata.get("sha256")
        info = self._fs.info(key)
        if info.get("type") != "file":
            raise FileNotFoundError(key)
        return int(info["size"]), None

    def _hash(self, key: str) -> str:
        digest = hashlib.sha256()
        with self._fs.open(key, "rb") as stream:
            while chunk := stream.read(_READ):
                digest.update(chunk)
        return digest.hexdigest()

    def check(self) -> None:
        """Ask the store once, before the run: is the bucket there, may we reach it?

        Raises:
            OSError: it cannot be used (one line, without credentials).
        """
        try:
            if self._scheme in _S3_SCHEMES:
                bucket, _, _ = self._fs.split_path(self._root)
                self._fs.call_s3("head_bucket", Bucket=bucket)
            elif not self._fs.exists(self._root):
                self._fs.makedirs(self._root, exist_ok=True)
        except FileNotFoundError:
            raise OSError("its bucket does not exist") from None
        except PermissionError:
            raise OSError(
                "access denied (credentials come from the environment or the AWS configuration)"
            ) from None
        except Exception as exc:
            raise OSError(_reason(exc)) from None

    def temporary(self) -> Path:
        """A new name in a private temporary folder of this process (made with mode 0700, so
        no other user can read a body or plant a link), removed when the process ends; the
        store has no rename, so the temporary need not be near it."""
        if self._folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix="yamlcrawl-uploads-"))
            atexit.register(shutil.rmtree, self._folder, ignore_errors=True)
        return self._folder / temporary_name()

    def put(self, temporary: Path, path: str, sha256: str, content_type: str | None) -> None:
        """Upload the whole file in one request (a multipart upload when large: the object
        appears when it completes), with its SHA-256 and the response's Content-Type; the
        temporary is removed.

        Raises:
            OSError: the store refused or could not be reached (one line, no credentials).
        """
        extra: dict[str, Any] = {}
        if self._scheme in _S3_SCHEMES:
            extra["Metadata"] = {"sha256": sha256}
            extra["ContentType"] = content_type or "application/octet-stream"
        try:
            self._fs.put_file(str(temporary), self._key(path), **extra)
        except Exception as exc:
            raise _store_error(self.url, "upload", path, exc) from None
        finally:
            temporary.unlink(missing_ok=True)


def _endpoint() -> str | None:
    """The S3 endpoint the environment names (botocore's own variables): passed on explicitly,
    so that a process keeps one connection pool per endpoint."""
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None


def _reason(exc: BaseException) -> str:
    """A library's error in one line (botocore's never hold the credentials)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _store_error(url: str, doing: str, path: str, exc: BaseException) -> OSError:
    """One line for a failed store request: what, where, and the library's reason (which never
    holds the credentials), as an OSError the download reports like a disk's."""
    error = OSError(f"cannot {doing} {path} in {url}: {_reason(exc)}")
    error.strerror = error.args[0]
    return error
