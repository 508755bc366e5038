"""The escape battery. Every test runs under each layer configuration (conftest.LAYERS): with all
layers, without the audit hook, and with the kernel namespaces, uid drop and rlimits alone (no audit
hook, no seccomp). Each asserts that the attempt fails, that the sandbox answers the next block, and
that the host saw nothing of it."""

from __future__ import annotations

import os
import select
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from textwrap import dedent

import pytest

import reporlm
from reporlm.sandbox import Sandbox

from .conftest import LAYERS, SandboxFactory, children, run_ok

SECRET = "sk-test-secret"


async def still_answers(sandbox: Sandbox) -> None:
    assert await run_ok(sandbox, "print(6 * 7)") == "42\n"


def try_each(paths: list[str], action: str) -> str:
    """Code that tries ``action`` (using ``path``) on each path and prints what happened."""
    return dedent(f"""\
        for path in {paths!r}:
            try:
                {action}
            except OSError as e:
                print(type(e).__name__)
        """)


@pytest.fixture
def secret_files() -> Iterator[tuple[Path, Path, str]]:
    token = f"secret-{uuid.uuid4().hex}"
    in_home = Path.home() / f".reporlm-test-secret-{uuid.uuid4().hex}"
    in_tmp = Path(tempfile.gettempdir()) / f"reporlm-test-secret-{uuid.uuid4().hex}"
    for path in (in_home, in_tmp):
        path.write_text(token)
        path.chmod(0o644)  # world-readable: only the mount namespace keeps it out
    yield in_home, in_tmp, token
    in_home.unlink()
    in_tmp.unlink()


async def test_environment_variables_of_the_server_are_absent(
    monkeypatch: pytest.MonkeyPatch, make_sandbox: SandboxFactory
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    for options in LAYERS.values():
        sandbox = await make_sandbox(options=options)
        code = "import os\nprint(dict(os.environ))\n"
        code += try_each(["/proc/self/environ", "/proc/1/environ"], "print(open(path).read())")
        result = await sandbox.execute(code)
        assert SECRET not in result.output
        assert "ANTHROPIC" not in result.output
        assert result.output.count("FileNotFoundError") == 2  # there is no /proc at all
        await still_answers(sandbox)


async def test_parent_environ_is_unreadable(layered: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    host = os.getpid()
    paths = [f"/proc/{host}/environ", f"/proc/{host}/root/proc/{host}/environ"]
    code = try_each(paths, "print(open(path, 'rb').read())") + "import os\nprint(os.path.exists('/proc'))"
    result = await layered.execute(code)
    assert SECRET not in result.output
    assert result.output == "FileNotFoundError\nFileNotFoundError\nFalse\n"
    await still_answers(layered)


async def test_mounting_proc_to_reach_the_host_fails(layered: Sandbox) -> None:
    """Even with ctypes free to call mount(2) (no audit hook), there is no privilege to mount /proc,
    not even after making a user namespace of its own."""
    if layered.info["audit_hook"]:
        result = await layered.execute("import ctypes\nctypes.CDLL(None)")
        assert result.error is not None and result.error.startswith("PermissionError: sandbox:")
        await still_answers(layered)
        return
    output = await run_ok(
        layered,
        dedent("""\
            import ctypes, os
            libc = ctypes.CDLL(None, use_errno=True)
            os.makedirs('/tmp/p', exist_ok=True)
            def attempt(label, result):
                print(label, result, os.strerror(ctypes.get_errno()), os.listdir('/tmp/p'))
            attempt('mount', libc.mount(b'proc', b'/tmp/p', b'proc', 0, None))
            attempt('unshare', libc.unshare(0x10000000 | 0x00020000))  # CLONE_NEWUSER | CLONE_NEWNS
            attempt('mount-again', libc.mount(b'proc', b'/tmp/p', b'proc', 0, None))
            """),
    )
    lines = output.splitlines()
    assert lines[0] == "mount -1 Operation not permitted []"
    assert lines[2] == "mount-again -1 Operation not permitted []"
    if layered.info["seccomp"]:
        assert lines[1] == "unshare -1 Operation not permitted []"
    await still_answers(layered)


async def test_secret_files_in_home_and_tmp_are_unreadable(
    layered: Sandbox, secret_files: tuple[Path, Path, str]
) -> None:
    in_home, in_tmp, token = secret_files
    code = try_each([str(in_home), str(in_tmp)], "print(open(path).read())")
    code += "import glob, os\nprint(glob.glob('/tmp/*'), glob.glob('/home/*'), os.path.exists('/etc/passwd'))"
    result = await layered.execute(code)
    assert token not in result.output
    assert result.output.splitlines() == ["FileNotFoundError", "FileNotFoundError", "[] [] False"]
    await still_answers(layered)


async def test_repository_folder_cannot_be_written(layered: Sandbox, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "a.py").write_text("x = 1\n")
    repo.chmod(0o777)  # even a folder anyone may write to stays out of reach
    before = {p.name: p.read_text() for p in repo.iterdir()}
    code = try_each(
        [str(repo / "a.py"), str(repo / "new.py")], "open(path, 'w').write('owned'); print('WROTE')"
    )
    result = await layered.execute(code)
    assert "WROTE" not in result.output
    assert {p.name: p.read_text() for p in repo.iterdir()} == before
    await still_answers(layered)


async def test_writes_outside_scratch_fail_and_scratch_works(layered: Sandbox) -> None:
    stdlib = os.path.dirname(os.__file__)
    paths = ["/owned", f"{stdlib}/owned.py", "/usr/lib/owned", reporlm.__file__, "/dev/owned"]
    code = try_each(paths, "open(path, 'w').write('x'); print('WROTE', path)")
    code += try_each(["/usr/owned", "/tmp/../owned"], "__import__('os').mkdir(path); print('MADE', path)")
    result = await layered.execute(code)
    assert "WROTE" not in result.output and "MADE" not in result.output
    assert not os.path.exists(os.path.join(stdlib, "owned.py"))
    output = await run_ok(
        layered,
        dedent("""\
            import os, pathlib
            open('/tmp/notes.txt', 'w').write('kept')
            pathlib.Path('rel.txt').write_text('cwd')
            print(open('/tmp/notes.txt').read(), open('/tmp/rel.txt').read(), os.getcwd())
            """),
    )
    assert output == "kept cwd /tmp\n"


async def test_scratch_is_size_limited(layered: Sandbox) -> None:
    result = await layered.execute("open('/tmp/big', 'wb').write(b'x' * (100 * 1024 * 1024))")
    assert result.error is not None and ("No space left" in result.error or "File too large" in result.error)
    await run_ok(layered, "import os\nos.remove('/tmp/big')")
    await still_answers(layered)


async def test_shell_and_subprocess_fail(layered: Sandbox, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    result = await layered.execute(
        dedent(f"""\
            import os, subprocess
            attempts = {{
                'system': lambda: print('system returned', os.system('touch {marker}')),
                'run': lambda: subprocess.run(['/usr/bin/touch', '{marker}']) and print('RAN'),
                'fork': lambda: os._exit(0) if os.fork() == 0 else print('FORKED'),
                'forkpty': lambda: os._exit(0) if os.forkpty()[0] == 0 else print('FORKED'),
                'spawn': lambda: os.posix_spawn('/usr/bin/touch', ['t', '{marker}'], {{}}) and print('SPAWN'),
            }}
            for name, attempt in attempts.items():
                try:
                    attempt()
                except Exception as e:
                    print(name, type(e).__name__)
            """)
    )
    for word in ("RAN", "FORKED", "SPAWN", "system returned 0"):
        assert word not in result.output
    assert not marker.exists()
    await still_answers(layered)


async def test_network_is_unreachable_even_loopback(layered: Sandbox) -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    try:
        result = await layered.execute(
            dedent(f"""\
                import socket
                for addr in (('127.0.0.1', {port}), ('1.1.1.1', 443)):
                    try:
                        socket.create_connection(addr, timeout=2)
                        print('CONNECTED')
                    except OSError as e:
                        print(type(e).__name__, e.errno)
                try:
                    socket.socket(socket.AF_UNIX).connect('\\0an-abstract-socket')
                except OSError as e:
                    print(type(e).__name__)
                """)
        )
        assert "CONNECTED" not in result.output
        if not layered.info["audit_hook"] and not layered.info["seccomp"]:
            assert result.output.startswith("OSError 101\nOSError 101\n")  # ENETUNREACH: no interface up
        readable, _, _ = select.select([listener], [], [], 0.2)
        assert readable == [], "the host's listener received a connection"
    finally:
        listener.close()
    await still_answers(layered)


async def test_fork_bomb_fails_at_the_first_fork(layered: Sandbox) -> None:
    result = await layered.execute("import os\nwhile True:\n    if os.fork() == 0:\n        os._exit(0)")
    assert result.error is not None
    assert any(e in result.error for e in ("PermissionError", "BlockingIOError"))
    assert not result.killed
    assert layered.pid is not None and len(children(layered.pid)) == 1  # the worker alone, no offspring
    await still_answers(layered)


async def test_native_code_cannot_start_processes_or_sockets(layered: Sandbox, tmp_path: Path) -> None:
    """ctypes gets around the audit hook; the kernel barriers must hold anyway."""
    marker = tmp_path / "ran"
    if layered.info["audit_hook"]:
        result = await layered.execute(f"import ctypes\nctypes.CDLL(None).system(b'touch {marker}')")
        assert result.error is not None and "native code" in result.error
        assert "audit.py" not in result.output  # the refusal reads as the model's own error
        assert not marker.exists()
        await still_answers(layered)
        return
    output = await run_ok(
        layered,
        dedent(f"""\
            import ctypes, os
            libc = ctypes.CDLL(None, use_errno=True)
            print('system', libc.system(b'touch {marker}'))
            x86 = os.uname().machine == 'x86_64'
            pid = libc.syscall(57) if x86 else libc.syscall(220, 17, 0, 0, 0, 0)  # fork / clone(SIGCHLD)
            if pid == 0:
                libc._exit(0)
            print('fork', pid, ctypes.get_errno())
            fd = libc.socket(2, 1, 0)
            print('socket', fd)
            if fd >= 0:
                port = (9).to_bytes(2, 'big')
                loopback = (2).to_bytes(2, 'little') + port + bytes([127, 0, 0, 1]) + bytes(8)
                print('connect', libc.connect(fd, loopback, 16), os.strerror(ctypes.get_errno()))
            """),
    )
    assert not marker.exists()
    lines = dict(line.split(" ", 1) for line in output.splitlines())
    assert lines["system"] != "0"
    if layered.info["seccomp"]:
        assert lines["fork"] == "-1 1"  # EPERM from the filter
        assert lines["socket"] == "-1"
    else:
        assert lines["fork"] == "-1 11"  # EAGAIN: RLIMIT_NPROC is 0
        assert lines["connect"] == "-1 Network is unreachable"
    await still_answers(layered)


async def test_exec_is_refused_by_the_filter(make_sandbox: SandboxFactory) -> None:
    """Without the filter, a program that happens to live under /usr/lib could replace the worker
    (still confined by every namespace); the seccomp filter refuses execve itself."""
    sandbox = await make_sandbox(options=LAYERS["no-audit-hook"])
    output = await run_ok(
        sandbox,
        dedent("""\
            import ctypes, glob
            libc = ctypes.CDLL(None, use_errno=True)
            loader = (glob.glob('/usr/lib*/ld-linux*') + glob.glob('/usr/lib/*/ld-linux*'))[0].encode()
            print(libc.execve(loader, None, None), ctypes.get_errno())
            """),
    )
    assert output == "-1 1\n"


async def test_no_privileges_remain(layered: Sandbox) -> None:
    code = "import os\nprint(os.getuid(), os.geteuid(), os.getgid(), os.getgroups())\n"
    code += try_each(["/tmp"], "os.chroot(path); print('ALLOWED')")
    code += try_each([0], "os.setuid(path); print('ALLOWED')")
    output = await run_ok(layered, code)
    assert "ALLOWED" not in output
    if os.geteuid() == 0:
        assert output.splitlines()[0] == "65534 65534 65534 []"
