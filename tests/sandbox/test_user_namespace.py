"""The path a non-root user takes: namespaces inside an unprivileged user namespace.

As root, the test first runs it with ``user_namespace=True``; then it runs a small host program
as uid 65534 (util-linux ``unshare`` + ``setpriv``), which is what a developer's machine offers.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from textwrap import dedent

import pytest

from reporlm.sandbox import IsolationOptions

from .conftest import SandboxFactory, is_root, run_ok

SERVER_DIR = Path(__file__).resolve().parents[2] / "server"


def _attempt(action: str, success: str) -> str:
    return dedent(f"""\
        import os, socket
        try:
            {action}
            print({success!r})
        except OSError as e:
            print(type(e).__name__, e.errno)
        """)


def checks(secret_file: Path) -> dict[str, str]:
    return {
        "ids": "import os\nprint(os.getuid(), os.getgid())",
        "secret": _attempt(f"print(open({str(secret_file)!r}).read())", "READ"),
        "network": _attempt("socket.create_connection(('127.0.0.1', 9), timeout=2)", "CONNECTED"),
        "fork": _attempt("os._exit(0) if os.fork() == 0 else None", "FORKED"),
        "write": _attempt("open('/usr/lib/owned', 'w')", "WROTE"),
        "setuid": _attempt("os.setuid(0)", "ROOT"),
        "scratch": "open('/tmp/a', 'w').write('ok')\nprint(open('/tmp/a').read())",
        "loop": "sum(range(10**13))",
        "after": "print('after')",
    }


# Runs as uid 65534: starts sandboxes with and without the defence-in-depth layers and reports.
HOST_PROGRAM = """
import asyncio, json, os, sys
config = json.loads(sys.argv[1])
sys.path.insert(0, config["server"])
from reporlm.sandbox import IsolationOptions, Sandbox, SandboxLimits

LAYERS = {"all": IsolationOptions(), "kernel": IsolationOptions(audit_hook=False, seccomp=False)}

async def handler(name, args, kwargs):
    return None

async def main():
    report = {"uid": os.getuid()}
    for label, options in LAYERS.items():
        limits = SandboxLimits(wall_seconds=1, memory_mb=256)
        sandbox = await Sandbox.start(functions={}, handler=handler, options=options, limits=limits)
        results = {"info": sandbox.info}
        for name, code in config["checks"].items():
            r = await sandbox.execute(code)
            results[name] = {"output": r.output, "error": r.error, "killed": r.killed, "reset": r.reset}
        pid = sandbox.pid
        await sandbox.close()
        results["closed"] = not os.path.exists(f"/proc/{pid}")
        report[label] = results
    print(json.dumps(report))

asyncio.run(main())
"""


async def test_user_namespace_mode_as_root(make_sandbox: SandboxFactory) -> None:
    sandbox = await make_sandbox(options=IsolationOptions(user_namespace=True))
    assert sandbox.info["mode"] == "user"
    output = await run_ok(
        sandbox,
        "import os\nprint(sorted(os.listdir('/')))\n" + _attempt("os.fork()", "FORKED"),
    )
    top, fork = output.splitlines()
    assert not {"proc", "etc", "home", "sys", "run", "var", "work"} & set(eval(top))
    assert fork == "PermissionError None"  # refused by the audit hook


def _hidden_ancestor(paths: list[Path]) -> Path | None:
    """The one folder on the way to ``paths`` that others may not enter (like /root), if any."""
    found: set[Path] = set()
    for path in paths:
        for ancestor in reversed(path.parents):
            if not ancestor.stat().st_mode & stat.S_IXOTH:
                found.add(ancestor)
                break
    if len(found) > 1:
        pytest.skip(f"more than one private folder on the way to Python: {found}")
    return found.pop() if found else None


@pytest.mark.skipif(not is_root(), reason="needs root to act as another, unprivileged user")
def test_as_an_unprivileged_user(tmp_path: Path) -> None:
    if not (shutil.which("unshare") and shutil.which("setpriv")):
        pytest.skip("util-linux unshare and setpriv are needed")
    needed = [Path(sys.base_prefix), Path(sys.prefix), SERVER_DIR]
    hidden = _hidden_ancestor(needed)
    secret = Path(tempfile.gettempdir()) / f"reporlm-test-secret-{uuid.uuid4().hex}"
    secret.write_text("rootless-secret")
    secret.chmod(0o644)  # the unprivileged user could read it outside the sandbox
    config = json.dumps({"server": str(SERVER_DIR), "checks": checks(secret)})
    # Make Python reachable for uid 65534 in a private mount namespace of this test only: a tmpfs
    # over the private folder, holding just the folder Python lives in.
    script = "set -e\n"
    if hidden is not None:
        child = next(n.relative_to(hidden).parts[0] for n in needed if hidden in n.parents)
        hold = tmp_path / "hold"
        hold.mkdir()
        script += (
            f"mount --bind '{hidden / child}' '{hold}'\n"
            f"mount -t tmpfs -o mode=755 tmpfs '{hidden}'\n"
            f"mkdir -p '{hidden / child}'\n"
            f"mount --move '{hold}' '{hidden / child}'\n"
        )
    script += 'exec setpriv --reuid=65534 --regid=65534 --clear-groups "$0" -I -c "$1" "$2"\n'
    try:
        completed = subprocess.run(
            [
                "unshare",
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                script,
                sys.executable,
                HOST_PROGRAM,
                config,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        )
    finally:
        secret.unlink()
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(completed.stdout)
    assert report["uid"] == 65534
    for label in ("all", "kernel"):
        results = report[label]
        out = {name: r["output"] for name, r in results.items() if isinstance(r, dict) and "output" in r}
        assert results["info"]["mode"] == "user"
        assert out["ids"] == "65534 65534\n"
        assert "rootless-secret" not in out["secret"] and out["secret"] == "FileNotFoundError 2\n"
        assert "CONNECTED" not in out["network"] and "FORKED" not in out["fork"]
        assert "WROTE" not in out["write"] and "ROOT" not in out["setuid"]
        assert out["scratch"] == "ok\n"
        assert results["loop"]["killed"] and results["loop"]["reset"]
        assert out["after"] == "after\n"
        assert results["closed"]
    kernel = report["kernel"]
    assert kernel["network"]["output"] == "OSError 101\n"  # ENETUNREACH
    assert kernel["fork"]["output"] == "BlockingIOError 11\n"  # EAGAIN: RLIMIT_NPROC 0
    assert kernel["write"]["output"] == "OSError 30\n"  # EROFS
    assert kernel["setuid"]["output"] == "OSError 22\n"  # EINVAL: uid 0 does not exist in the namespace


UNAVAILABLE_PROGRAM = """
import asyncio, sys
sys.path.insert(0, sys.argv[1])
from reporlm.sandbox import Sandbox, SandboxUnavailable

async def handler(name, args, kwargs):
    return None

async def main():
    try:
        sandbox = await Sandbox.start(functions={}, handler=handler)
    except SandboxUnavailable as exc:
        print("UNAVAILABLE:", exc)
    else:
        print("STARTED", sandbox.info)
        await sandbox.close()

asyncio.run(main())
"""


@pytest.mark.skipif(not is_root(), reason="needs root to build a namespace where namespaces are refused")
def test_refused_namespaces_make_the_sandbox_unavailable() -> None:
    """Where the kernel refuses namespaces, start() raises SandboxUnavailable saying what is needed;
    it never runs the code unsandboxed. Built here as: no capabilities, and a user namespace whose
    limit on nested user namespaces is 0."""
    if not (shutil.which("unshare") and shutil.which("setpriv")):
        pytest.skip("util-linux unshare and setpriv are needed")
    script = (
        "echo 0 > /proc/sys/user/max_user_namespaces && "
        'exec setpriv --bounding-set=-all --inh-caps=-all "$0" -I -c "$1" "$2"'
    )
    command = ["unshare", "--user", "--map-root-user", "sh", "-c", script]
    completed = subprocess.run(
        [*command, sys.executable, UNAVAILABLE_PROGRAM, str(SERVER_DIR)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert completed.stdout.startswith(
        "UNAVAILABLE: cannot isolate the worker: cannot create a user namespace"
    )
    assert "unprivileged user namespaces" in completed.stdout
