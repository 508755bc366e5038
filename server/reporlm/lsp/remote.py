"""`reporlm serve --tcp`: who may connect, and what a client on the network may set.

Over stdio the client is the process that started the server, so it is trusted. A TCP port on
loopback is open to every local user, so the server requires a token:

- At start the server writes a random token to a file only its user can read (0600, in a 0700
  folder: the user's runtime folder by default, `--token-file` to choose), and says where on
  stderr. The file is removed when the server stops.
- The first message on a connection must be `initialize`, with the token in
  `initializationOptions.token`. Anything else (another message, a wrong or missing token, a
  message too large or too slow to arrive) closes the connection without a reply, and the server
  goes on waiting for its client. The token is compared in constant time and removed from the
  options before the server sees them.

Even an authenticated network client is held to less than a local one (`NetworkClient`): it may
not set endpoints, key files, model files or the scripted provider, nor open workspace folders
outside those the server was started with (`--folder`, by default the current folder).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
import secrets
import stat
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reporlm.config import ConfigError
from reporlm.lsp.folders import outside
from reporlm.lsp.options import refuse_for_network

log = logging.getLogger(__name__)

TOKEN_OPTION = "token"
FIRST_MESSAGE_SECONDS = 10.0
"""A connection that has not sent its `initialize` by then is closed."""
MAX_FIRST_MESSAGE = 1024 * 1024
MAX_HEADERS = 16


@dataclass(frozen=True)
class NetworkClient:
    """What a client that connected over the network may not do."""

    folders: tuple[Path, ...]
    """The folders the server was started with (resolved): workspace folders must be inside one."""

    def check_options(self, options: Mapping[str, Any]) -> None:
        """Raise ConfigError for an option a network client may not set (normalized names)."""
        refuse_for_network(options)

    def folder_refusal(self, uri: str, path: Path | None) -> str | None:
        """Why the workspace folder `uri` may not be opened for this client, or None."""
        if path is None:
            return None  # not a local folder: never opened anyway
        if outside(path, self.folders):
            served = ", ".join(str(f) for f in self.folders) or "none"
            return (
                f"the workspace folder {uri} is outside the folders this server was started with "
                f"({served}); start it with `reporlm serve --tcp --folder PATH` to serve another"
            )
        return None


class Gate:
    """The token of one `serve --tcp`, and the check of each connection's first message."""

    def __init__(self, token_file: Path | None = None) -> None:
        self.token = secrets.token_urlsafe(32)
        self._chosen = token_file
        self.path: Path | None = None

    def publish(self, port: int) -> Path:
        """Write the token where clients (of the same user) can read it; the file's path."""
        path = self._chosen or runtime_dir() / f"serve-{port}.token"
        path = path.expanduser().absolute()
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # a stale one from an earlier run on this port
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(path, flags, 0o600)
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(self.token + "\n")
        except OSError as exc:
            raise ConfigError(f"cannot write the token file {path}: {exc.strerror}") from None
        self.path = path
        return path

    def close(self) -> None:
        if self.path is not None:
            with contextlib.suppress(OSError):
                self.path.unlink()
            self.path = None

    async def admit(self, reader: asyncio.StreamReader, peer: object) -> Replayed | None:
        """A reader that starts with the connection's `initialize` (token removed), or None when
        the connection must be closed unanswered."""
        try:
            body = await asyncio.wait_for(_read_frame(reader), FIRST_MESSAGE_SECONDS)
            message = _checked(body, self.token)
        except TimeoutError:
            log.warning(
                "refused a connection from %s: no initialize within %g s", peer, FIRST_MESSAGE_SECONDS
            )
            return None
        except (_Refused, ValueError, EOFError, OSError, asyncio.LimitOverrunError) as exc:
            log.warning("refused a connection from %s: %s", peer, str(exc) or type(exc).__name__)
            return None
        data = json.dumps(message, ensure_ascii=False).encode("utf-8")
        return Replayed(b"Content-Length: %d\r\n\r\n" % len(data) + data, reader)


class Replayed:
    """A stream reader that first gives back the (rewritten) first frame, then the connection."""

    def __init__(self, head: bytes, rest: asyncio.StreamReader) -> None:
        self._head = head
        self._rest = rest

    async def read(self, n: int = -1) -> bytes:
        if self._head:
            n = len(self._head) if n < 0 else n
            data, self._head = self._head[:n], self._head[n:]
            return data
        return await self._rest.read(n)

    async def readline(self) -> bytes:
        if self._head:
            line, sep, self._head = self._head.partition(b"\n")
            return line + sep
        return await self._rest.readline()

    async def readexactly(self, n: int) -> bytes:
        data, self._head = self._head[:n], self._head[n:]
        if len(data) < n:
            data += await self._rest.readexactly(n - len(data))
        return data


def runtime_dir() -> Path:
    """The user's runtime folder for reporlm, checked to be ours alone (0700, not a symlink)."""
    import platformdirs

    with warnings.catch_warnings():  # it warns when XDG_RUNTIME_DIR is unset; its fallback is fine
        warnings.simplefilter("ignore")
        path = platformdirs.user_runtime_path("reporlm", appauthor=False, ensure_exists=True)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o077:
        raise ConfigError(
            f"{path} must be a folder that only you can use (mode 0700) to hold the server's token; "
            "fix it or choose the file with --token-file"
        )
    return path


def served_folders(folders: Sequence[str | Path]) -> tuple[Path, ...]:
    """The `--folder`s of `serve --tcp` (the current folder when none), resolved and checked."""
    chosen = [Path(f).expanduser() for f in folders] or [Path.cwd()]
    for folder in chosen:
        if not folder.is_dir():
            raise ConfigError(f"--folder {folder}: no such folder")
    return tuple(folder.resolve() for folder in chosen)


class _Refused(Exception):
    """The first message is not an authenticated `initialize`."""


async def _read_frame(reader: asyncio.StreamReader) -> bytes:
    length: int | None = None
    for _ in range(MAX_HEADERS):
        line = await reader.readline()
        if not line:
            raise _Refused("closed before sending initialize")
        if line in (b"\r\n", b"\n"):
            break
        name, sep, value = line.decode("ascii", "replace").partition(":")
        if sep and name.strip().lower() == "content-length":
            length = int(value.strip())
    else:
        raise _Refused("too many header lines")
    if length is None or not 0 < length <= MAX_FIRST_MESSAGE:
        raise _Refused(f"no usable Content-Length ({length})")
    return await reader.readexactly(length)


def _checked(body: bytes, token: str) -> dict[str, Any]:
    """The `initialize` message in `body` without its token; _Refused unless it carries `token`."""
    message = json.loads(body)
    if not isinstance(message, dict) or message.get("method") != "initialize" or "id" not in message:
        raise _Refused("the first message is not initialize")
    params = message.get("params")
    options = params.get("initializationOptions") if isinstance(params, dict) else None
    given = options.get(TOKEN_OPTION) if isinstance(options, dict) else None
    if not isinstance(given, str) or not hmac.compare_digest(given.encode(), token.encode()):
        raise _Refused("no token" if given is None else "wrong token")
    assert isinstance(options, dict)
    del options[TOKEN_OPTION]
    return message
