"""Kernel barriers around the worker: namespaces, a minimal read-only root, no privileges, rlimits.

Runs inside the worker process before any model code. The order matters:

1. ``enter_namespaces``: new mount, network, pid, IPC, UTS and cgroup namespaces. As root they are
   made directly; otherwise (or when root lacks the privilege, e.g. in a container) inside a new
   user namespace that maps only our own uid.
2. ``build_root``: mounts private, a small tmpfs becomes the new root (``pivot_root``, then the old
   root is detached, so no path leads back to the host's filesystem), holding read-only bind mounts
   of only what the standard library needs, a few device files, and a size-limited tmpfs at /tmp for
   scratch. No /proc, no /etc, no home, no repository. The root is then remounted read-only.
3. (the worker forks here so that the model's code runs as pid 1 of the new pid namespace)
4. ``drop_privileges``: uid/gid 65534 when we were root; all capabilities dropped; no new privileges.
5. ``apply_rlimits``: address space, no new processes, file size, open files, no core dumps.

Python 3.11 has no ``os.unshare``: the syscalls are reached through ctypes.
"""

from __future__ import annotations

import ctypes
import errno
import os
import resource
import signal
from dataclasses import dataclass
from typing import Literal

NOBODY = 65534

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24
MNT_DETACH = 2

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
_LINUX_CAPABILITY_VERSION_3 = 0x20080522

_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}

Mode = Literal["root", "user"]

# What the standard library's extension modules load lazily (libssl, libffi, libz, ...).
_LIBRARY_DIRS = ("/usr/lib", "/usr/lib64", "/usr/lib32", "/usr/local/lib", "/lib", "/lib64", "/lib32")
_OPTIONAL_DATA = ("/usr/share/zoneinfo",)  # for the zoneinfo module
_DEVICES = ("/dev/null", "/dev/zero", "/dev/random", "/dev/urandom")
SCRATCH = "/tmp"


class IsolationError(Exception):
    """A barrier could not be put in place; the message says which and why."""


_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> int:
    if result == -1:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")
    return result


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    def b(text: str | None) -> bytes | None:
        return None if text is None else os.fsencode(text)

    _check(
        _libc.mount(b(source), b(target), b(fstype), ctypes.c_ulong(flags), b(data)),
        f"mount {source or ''} on {target}",
    )


def _prctl(option: int, arg2: int = 0, arg3: int = 0) -> int:
    return _check(
        _libc.prctl(option, ctypes.c_ulong(arg2), ctypes.c_ulong(arg3), ctypes.c_ulong(0), ctypes.c_ulong(0)),
        f"prctl({option})",
    )


# --- 1. namespaces -------------------------------------------------------------------------------


def enter_namespaces(user_namespace: bool | None) -> Mode:
    """Unshare every namespace but time; returns "root" (real root) or "user" (a user namespace).

    ``user_namespace=None`` picks: real root when we are root and allowed, else a user namespace.
    """
    flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP
    uid, gid = os.geteuid(), os.getegid()
    if user_namespace is not True and uid == 0:
        if _libc.unshare(flags) == 0:
            # Root of a container's user namespace may have no uid 65534 to drop to: then it keeps
            # its uid (an unprivileged one on the host) and drops its capabilities.
            return "root" if _is_mapped("uid", NOBODY) and _is_mapped("gid", NOBODY) else "user"
        code = ctypes.get_errno()
        if user_namespace is False or code != errno.EPERM:
            raise IsolationError(f"unshare(namespaces) failed as root: {os.strerror(code)}")
        # Root without CAP_SYS_ADMIN (a container): a user namespace may still be allowed.
    if _libc.unshare(flags | CLONE_NEWUSER) != 0:
        code = ctypes.get_errno()
        raise IsolationError(
            f"cannot create a user namespace: unshare failed: {os.strerror(code)}. The sandbox needs "
            "Linux namespaces: run as root, or enable unprivileged user namespaces "
            "(sysctl kernel.unprivileged_userns_clone=1, user.max_user_namespaces > 0, and no "
            "AppArmor/SELinux/seccomp policy that forbids them)."
        )
    # Map only ourselves: inside the namespace we keep our uid, and no other host uid exists.
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"{uid} {uid} 1\n")
    _write("/proc/self/gid_map", f"{gid} {gid} 1\n")
    return "user"


def _is_mapped(kind: str, inner_id: int) -> bool:
    try:
        with open(f"/proc/self/{kind}_map") as file:
            ranges = [tuple(map(int, line.split())) for line in file if line.strip()]
    except OSError:
        return True  # no user namespace support at all: the initial namespace maps every id
    return any(start <= inner_id < start + length for start, _, length in ranges)


def _write(path: str, text: str) -> None:
    with open(path, "w") as file:
        file.write(text)


# --- 2. the new root -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Bind:
    source: str  # path on the host
    target: str  # path in the sandbox
    device: bool = False  # a device file: bound read-write, device access kept


@dataclass(frozen=True)
class Symlink:
    path: str
    points_to: str


def plan_root(extra_dirs: tuple[str, ...] = ()) -> list[Bind | Symlink]:
    """What the new root holds, computed on the host's view of the filesystem (before pivoting)."""
    wanted = _stdlib_dirs()
    wanted += [d for d in _LIBRARY_DIRS + _OPTIONAL_DATA if os.path.lexists(d)]
    wanted += list(extra_dirs)

    plan: list[Bind | Symlink] = []
    bound: list[str] = []
    for path in sorted({os.path.abspath(p) for p in wanted if os.path.exists(p)}, key=len):
        plan += _symlinks_on_the_way(path, bound)
        real = os.path.realpath(path)
        if not any(_is_within(real, b) for b in bound):
            plan.append(Bind(real, real))
            bound.append(real)
    plan += [Bind(d, d, device=True) for d in _DEVICES if os.path.exists(d)]
    return _dedupe(plan)


def _stdlib_dirs() -> list[str]:
    """The standard library's folders, found from modules (in a virtualenv, sysconfig's
    "platstdlib" is the venv's own folder, site-packages included: not wanted)."""
    import _ctypes  # an extension module: its folder is lib-dynload, or wherever they live

    return [os.path.dirname(m.__file__) for m in (os, _ctypes) if getattr(m, "__file__", None)]


def _symlinks_on_the_way(path: str, bound: list[str], depth: int = 0) -> list[Bind | Symlink]:
    """Symlinks on ``path`` (like /lib -> usr/lib) recreated, so the path resolves in the new root."""
    if depth > 8:
        return []
    plan: list[Bind | Symlink] = []
    parts = path.strip("/").split("/")
    for i in range(1, len(parts) + 1):
        prefix = "/" + "/".join(parts[:i])
        if any(_is_within(prefix, b) for b in bound):
            return plan  # inside a bind mount: the link is already there as it is on the host
        if os.path.islink(prefix):
            link = os.readlink(prefix)
            plan.append(Symlink(prefix, link))
            target = os.path.normpath(os.path.join(os.path.dirname(prefix), link))
            rest = "/".join(parts[i:])
            return plan + _symlinks_on_the_way(
                os.path.join(target, rest) if rest else target, bound, depth + 1
            )
    return plan


def _dedupe(plan: list[Bind | Symlink]) -> list[Bind | Symlink]:
    seen: set[str] = set()
    result: list[Bind | Symlink] = []
    for item in plan:
        key = item.target if isinstance(item, Bind) else item.path
        if key not in seen:
            seen.add(key)
            result.append(item)
    return result


def _is_within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def build_root(plan: list[Bind | Symlink], *, scratch_mb: int, owner: tuple[int, int]) -> None:
    """Pivot into a fresh tmpfs root holding ``plan`` and a scratch tmpfs at /tmp; cwd is /tmp."""
    # Private first: otherwise, as root, our mounts would propagate back to the host.
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    # The tmpfs is mounted over the host's /tmp only until the pivot: afterwards the host's /tmp
    # shows again under /.oldroot, so bind sources there stay reachable.
    base = "/tmp"
    _mount("tmpfs", base, "tmpfs", MS_NOSUID | MS_NODEV, "size=2m,nr_inodes=4096,mode=0755")
    os.chdir(base)
    os.mkdir(".oldroot", 0o700)
    _check(_libc.syscall(_pivot_root_number(), b".", b".oldroot"), "pivot_root")
    os.chdir("/")

    for item in plan:
        if isinstance(item, Symlink):
            _makedirs(os.path.dirname(item.path))
            if not os.path.lexists(item.path):
                os.symlink(item.points_to, item.path)
        else:
            _bind(item)

    _makedirs(SCRATCH)
    uid, gid = owner
    _mount(
        "tmpfs",
        SCRATCH,
        "tmpfs",
        MS_NOSUID | MS_NODEV | MS_NOEXEC,
        f"size={scratch_mb}m,nr_inodes=16384,mode=0700,uid={uid},gid={gid}",
    )
    # Detach the host's root: from here no path, '..' or fd leads out of the new root.
    _check(_libc.umount2(b"/.oldroot", MNT_DETACH), "umount2 /.oldroot")
    os.rmdir("/.oldroot")
    _mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    os.chdir(SCRATCH)


def _pivot_root_number() -> int:
    machine = os.uname().machine
    if machine not in _SYS_PIVOT_ROOT:
        raise IsolationError(f"unsupported architecture {machine!r} (supported: x86_64, aarch64)")
    return _SYS_PIVOT_ROOT[machine]


def _makedirs(path: str) -> None:
    os.makedirs(path, mode=0o755, exist_ok=True)


def _bind(item: Bind) -> None:
    source = "/.oldroot" + item.source
    if os.path.isdir(source):
        _makedirs(item.target)
    else:
        _makedirs(os.path.dirname(item.target))
        with open(item.target, "w"):
            pass
    try:
        _mount(source, item.target, None, MS_BIND)
    except OSError as exc:
        # In a user namespace a mount with locked submounts can only be bound with them.
        if exc.errno != errno.EINVAL:
            raise
        _mount(source, item.target, None, MS_BIND | MS_REC)
    if item.device:
        return
    _mount(
        None, item.target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | _kept_flags(item)
    )


def _kept_flags(item: Bind) -> int:
    """Flags a remount must repeat: in a user namespace the source mount's flags are locked."""
    flag = os.statvfs(item.target).f_flag
    kept = MS_NOEXEC if flag & os.ST_NOEXEC else 0
    if flag & os.ST_NOATIME:
        kept |= MS_NOATIME
    elif flag & os.ST_RELATIME:
        kept |= MS_RELATIME
    else:
        kept |= MS_STRICTATIME
    if flag & os.ST_NODIRATIME:
        kept |= MS_NODIRATIME
    return kept


# --- 4. privileges -------------------------------------------------------------------------------


class _CapHeader(ctypes.Structure):
    _fields_ = (("version", ctypes.c_uint32), ("pid", ctypes.c_int))


class _CapData(ctypes.Structure):
    _fields_ = (
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    )


def drop_privileges(mode: Mode) -> None:
    """Leave no way back to any privilege: uid 65534 (as root), no capabilities, no new privileges."""
    for cap in range(64):  # the bounding set: caps an exec could ever regain
        if _libc.prctl(PR_CAPBSET_DROP, ctypes.c_ulong(cap), 0, 0, 0) != 0:
            if ctypes.get_errno() == errno.EINVAL:
                break  # past the last capability this kernel knows
            raise IsolationError(f"cannot drop capability {cap} from the bounding set")
    if mode == "root":
        os.setgroups([])
        os.setresgid(NOBODY, NOBODY, NOBODY)
        os.setresuid(NOBODY, NOBODY, NOBODY)  # clears every capability, as all ids leave 0
    _prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    header, data = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0), (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(header), data), "capset")
    _prctl(PR_SET_NO_NEW_PRIVS, 1)
    _prctl(PR_SET_DUMPABLE, 0)  # no ptrace attach and no core dumps of this process
    _verify_no_privileges(mode)


def _verify_no_privileges(mode: Mode) -> None:
    header, data = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0), (_CapData * 2)()
    _check(_libc.capget(ctypes.byref(header), data), "capget")
    if any(d.effective or d.permitted or d.inheritable for d in data):
        raise IsolationError("capabilities are still held after dropping them")
    if mode == "root":
        try:
            os.setuid(0)
        except PermissionError:
            return
        raise IsolationError("could regain uid 0 after dropping it")


def set_parent_death_signal() -> None:
    """Be killed when the parent dies. Cleared by any uid change, so set it after dropping."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


# --- 5. rlimits ----------------------------------------------------------------------------------


def apply_rlimits(*, memory_mb: int, file_mb: int, open_files: int = 64) -> None:
    def limit(which: int, value: int) -> None:
        resource.setrlimit(which, (value, value))  # hard = soft: unprivileged code cannot raise it

    limit(resource.RLIMIT_AS, memory_mb * 1024 * 1024)
    limit(resource.RLIMIT_NPROC, 0)  # no fork, no thread: the model's code runs in this process only
    limit(resource.RLIMIT_FSIZE, file_mb * 1024 * 1024)
    limit(resource.RLIMIT_NOFILE, open_files)
    limit(resource.RLIMIT_CORE, 0)
    limit(resource.RLIMIT_MSGQUEUE, 0)
