"""Every git command reporlm runs, run so that the repository cannot run programs or see secrets.

A repository is untrusted, `.git/config` and `.gitattributes` included, and git obeys them: they
can name programs for hooks (`core.hooksPath`; `git diff` rewrites the index, which fires
`post-index-change`), filters (`filter.<name>.clean`/`.smudge`/`.process`, picked by
`.gitattributes`), signature checks (`gpg.program` with `log.showSignature`), external diff and
textconv drivers, pagers, the file-system monitor, and transports that start commands (`ext::`
URLs, `uploadpack`, `core.sshCommand`, a partial clone fetching a missing object). So each command:

- gets a minimal environment: no API keys or anything else of ours, only what git needs to find
  itself and the user's own configuration (PATH, HOME, the user's GIT_CONFIG_GLOBAL/SYSTEM);
- gets `-c` options that point every such program at nothing (`git -c` wins over every config
  file). git has no switch that turns all filters off, so the filter drivers the repository's
  configuration defines are looked up first and each is emptied (an empty driver is a no-op),
  and so are its diff drivers;
- runs with `--no-optional-locks` and `--no-pager`; diff-like commands add `--no-ext-diff
  --no-textconv` (the callers do, see `history`).

git's ownership check (`safe.directory`) is kept: a repository that belongs to another user is
refused by git, and `ownership_message` says how the user can allow it. Never pass
`safe.directory=*`: that is exactly what would let another user's `.git/config` run programs as us.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from .errors import WorkspaceError

CONFIG_TIMEOUT_S = 30
MAX_DRIVERS = 500
"""More driver and protocol names than this in one configuration: refuse rather than build a
huge command line."""

# Programs a configuration can name, pointed at nothing. `false` exits 1 without reading anything.
_NEUTRAL: tuple[tuple[str, str], ...] = (
    ("core.hooksPath", "/dev/null"),  # git looks for /dev/null/<hook>: never there
    ("core.fsmonitor", "false"),
    ("core.pager", "cat"),
    ("core.sshCommand", "false"),
    ("core.askPass", ""),
    ("core.editor", "false"),
    ("sequence.editor", "false"),
    ("credential.helper", ""),  # an empty value clears the list of helpers
    ("gpg.program", "false"),
    ("gpg.openpgp.program", "false"),
    ("gpg.x509.program", "false"),
    ("gpg.ssh.program", "false"),
    ("gpg.ssh.defaultKeyCommand", "false"),
    ("log.showSignature", "false"),
    ("diff.external", ""),
    ("blame.ignoreRevsFile", ""),
    ("submodule.recurse", "false"),
    ("safe.bareRepository", "explicit"),  # no bare repository hidden inside a work tree
    ("gc.auto", "0"),
    ("maintenance.auto", "false"),
    # No transport at all: a partial clone would fetch missing objects through its remote.
    ("protocol.allow", "never"),
    *((f"protocol.{name}.allow", "never") for name in ("file", "git", "ssh", "http", "https", "ext")),
)
_KINDS = ("filter", "diff", "protocol")
_DRIVER_KEY = re.compile(r"^(filter|diff|protocol)\.(.+)\.([^.]+)$", re.DOTALL)
_BAD_NAME = re.compile(r"[=\n\0]")
_DUBIOUS = re.compile(r"dubious ownership in repository at '([^']*)'")

# Read from our environment: how to find git and the user's own configuration. Nothing else.
_PASSED_ENV = (
    "PATH",
    "HOME",
    "XDG_CONFIG_HOME",
    "GIT_CONFIG_GLOBAL",
    "GIT_CONFIG_SYSTEM",
    "GIT_CONFIG_NOSYSTEM",
)


def environment() -> dict[str, str]:
    """The environment of every git command: stable messages, no prompts, no pager, no locks."""
    env = {
        "LC_ALL": "C",
        "LANG": "C",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_OPTIONAL_LOCKS": "0",
        "GIT_PAGER": "cat",
        # No fetch of missing objects (git 2.45+ and patched older ones; protocol.allow=never stops the rest).
        "GIT_NO_LAZY_FETCH": "1",
    }
    for name in _PASSED_ENV:
        if name in os.environ:
            env[name] = os.environ[name]
    return env


def command(root: Path, *args: str | bytes) -> list[str | bytes]:
    """The argv that runs `git args...` in `root` with every configured program neutralised.

    Reads the configuration first (one quick `git config`) to empty each filter driver it defines
    and to refuse each transport it allows. Raises WorkspaceError when that cannot be done.
    """
    return _git(root, *_options(_configured_drivers(root)), *args)


def run(root: Path, *args: str | bytes, timeout: float) -> subprocess.CompletedProcess[bytes]:
    """Run a git command to completion; stdout and stderr captured as bytes."""
    return subprocess.run(
        command(root, *args),
        env=environment(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=timeout,
        check=False,
    )


def ownership_message(stderr: str, root: Path) -> str | None:
    """What to tell the user when git refused `root` for belonging to another user, else None."""
    found = _DUBIOUS.search(stderr)
    if found is None:
        return None
    where = found.group(1) or str(root)
    return (
        f"git refuses the repository at {where}: it belongs to another user, and its own "
        "configuration could run programs as you. If you trust it, allow it with: "
        f"git config --global --add safe.directory {where}"
    )


def _git(root: Path, *args: str | bytes) -> list[str | bytes]:
    return ["git", "--no-pager", "--no-optional-locks", "-C", str(root), *args]


def _options(drivers: dict[str, set[str]]) -> list[str]:
    pairs = list(_NEUTRAL)
    for name in sorted(drivers["filter"]):
        # An empty driver does nothing; `required=false` keeps git from failing over it.
        pairs += [(f"filter.{name}.{key}", "") for key in ("clean", "smudge", "process")]
        pairs.append((f"filter.{name}.required", "false"))
    for name in sorted(drivers["diff"]):  # besides --no-ext-diff/--no-textconv where they apply
        pairs += [(f"diff.{name}.command", ""), (f"diff.{name}.textconv", "")]
    pairs += [(f"protocol.{name}.allow", "never") for name in sorted(drivers["protocol"])]
    options: list[str] = []
    for key, value in pairs:
        options += ["-c", f"{key}={value}"]
    return options


def _configured_drivers(root: Path) -> dict[str, set[str]]:
    """Names of the filter and diff drivers and of the protocols the effective configuration
    mentions (every file it includes too, as the command itself would read it)."""
    drivers: dict[str, set[str]] = {kind: set() for kind in _KINDS}
    probe = subprocess.run(
        _git(root, *_options(drivers), "config", "-z", "--get-regexp", rf"^({'|'.join(_KINDS)})\."),
        env=environment(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=CONFIG_TIMEOUT_S,
        check=False,
    )
    if probe.returncode not in (0, 1):  # 1: nothing matched
        message = probe.stderr.decode("utf-8", "replace").strip()
        raise WorkspaceError(f"git could not read the configuration of {root}: {message}")
    for entry in probe.stdout.decode("utf-8", "surrogateescape").split("\0"):
        found = _DRIVER_KEY.match(entry.partition("\n")[0])
        if found is None:
            continue
        kind, name = found.group(1), found.group(2)
        if _BAD_NAME.search(name):
            # `-c` cannot spell such a name, so it could not be neutralised: run nothing.
            raise WorkspaceError(
                f"the git configuration of {root} names a {kind} driver {name!r} that cannot be "
                "switched off; reporlm does not run git there"
            )
        drivers[kind].add(name)
    if sum(len(names) for names in drivers.values()) > MAX_DRIVERS:
        raise WorkspaceError(
            f"the git configuration of {root} defines more than {MAX_DRIVERS} drivers; "
            "reporlm does not run git there"
        )
    return drivers
