"""A seccomp filter: syscalls the model's code never needs fail with EPERM, whatever calls them.

The namespaces, the uid drop and the rlimits already stop these; the filter is a second kernel
barrier that holds even if one of those were misconfigured, and it also closes doors they leave
open to an unprivileged process (creating a user namespace, ptrace, io_uring, keyrings, bpf...).
A call from another ABI (32-bit, x32) kills the process.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct

_DENIED = (
    "fork vfork clone clone3 execve execveat",  # no new process or program
    "socket socketpair connect bind listen accept accept4",  # no network, not even local sockets
    "ptrace process_vm_readv process_vm_writev kcmp pidfd_open pidfd_getfd pidfd_send_signal",
    "unshare setns mount umount2 pivot_root chroot move_mount open_tree fsopen fsconfig fsmount",
    "fspick mount_setattr name_to_handle_at open_by_handle_at",
    "keyctl add_key request_key bpf perf_event_open userfaultfd fanotify_init",
    "io_uring_setup io_uring_enter io_uring_register",
    "kexec_load kexec_file_load init_module finit_module delete_module reboot swapon swapoff acct",
    "quotactl syslog personality iopl ioperm sethostname setdomainname settimeofday clock_settime",
    "adjtimex clock_adjtime vhangup",
)

# name=number, checked against asm/unistd_64.h and asm-generic/unistd.h (linux-libc-dev).
_X86_64 = """
    fork=57 vfork=58 clone=56 clone3=435 execve=59 execveat=322 socket=41 socketpair=53 connect=42
    bind=49 listen=50 accept=43 accept4=288 ptrace=101 process_vm_readv=310 process_vm_writev=311
    kcmp=312 pidfd_open=434 pidfd_getfd=438 pidfd_send_signal=424 unshare=272 setns=308 mount=165
    umount2=166 pivot_root=155 chroot=161 move_mount=429 open_tree=428 fsopen=430 fsconfig=431
    fsmount=432 fspick=433 mount_setattr=442 name_to_handle_at=303 open_by_handle_at=304 keyctl=250
    add_key=248 request_key=249 bpf=321 perf_event_open=298 userfaultfd=323 fanotify_init=300
    io_uring_setup=425 io_uring_enter=426 io_uring_register=427 kexec_load=246 kexec_file_load=320
    init_module=175 finit_module=313 delete_module=176 reboot=169 swapon=167 swapoff=168 acct=163
    quotactl=179 syslog=103 personality=135 iopl=172 ioperm=173 sethostname=170 setdomainname=171
    settimeofday=164 clock_settime=227 adjtimex=159 clock_adjtime=305 vhangup=153
"""
_AARCH64 = """
    clone=220 clone3=435 execve=221 execveat=281 socket=198 socketpair=199 connect=203 bind=200
    listen=201 accept=202 accept4=242 ptrace=117 process_vm_readv=270 process_vm_writev=271 kcmp=272
    pidfd_open=434 pidfd_getfd=438 pidfd_send_signal=424 unshare=97 setns=268 mount=40 umount2=39
    pivot_root=41 chroot=51 move_mount=429 open_tree=428 fsopen=430 fsconfig=431 fsmount=432 fspick=433
    mount_setattr=442 name_to_handle_at=264 open_by_handle_at=265 keyctl=219 add_key=217 request_key=218
    bpf=280 perf_event_open=241 userfaultfd=282 fanotify_init=262 io_uring_setup=425 io_uring_enter=426
    io_uring_register=427 kexec_load=104 kexec_file_load=294 init_module=105 finit_module=273
    delete_module=106 reboot=142 swapon=224 swapoff=225 acct=89 quotactl=60 syslog=116 personality=92
    sethostname=161 setdomainname=162 settimeofday=170 clock_settime=112 adjtimex=171 clock_adjtime=266
    vhangup=58
"""
_NUMBERS = {
    machine: {name: int(number) for name, number in (pair.split("=") for pair in table.split())}
    for machine, table in (("x86_64", _X86_64), ("aarch64", _AARCH64))
}
_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
_X32_SYSCALL_BIT = 0x40000000

_BPF_LD_W_ABS = 0x20
_BPF_JEQ_K = 0x15
_BPF_JGE_K = 0x35
_BPF_RET_K = 0x06
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
_RET_KILL_PROCESS = 0x80000000
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2
_OFFSET_NR, _OFFSET_ARCH = 0, 4


class _SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))


def denied_syscalls() -> list[str]:
    return " ".join(_DENIED).split()


def supported() -> bool:
    return os.uname().machine in _NUMBERS


def build_filter(machine: str) -> list[tuple[int, int, int, int]]:
    """The BPF program as (code, jump-if-true, jump-if-false, k) instructions."""
    numbers = _NUMBERS[machine]
    denied = sorted({numbers[name] for name in denied_syscalls() if name in numbers})
    program: list[tuple[int, int, int, int]] = [(_BPF_LD_W_ABS, 0, 0, _OFFSET_ARCH)]
    kill_at = 3 + (1 if machine == "x86_64" else 0) + len(denied) + 2
    program.append((_BPF_JEQ_K, 0, kill_at - 2, _AUDIT_ARCH[machine]))
    program.append((_BPF_LD_W_ABS, 0, 0, _OFFSET_NR))
    deny_at = kill_at - 1
    if machine == "x86_64":
        program.append((_BPF_JGE_K, deny_at - len(program) - 1, 0, _X32_SYSCALL_BIT))
    for number in denied:
        program.append((_BPF_JEQ_K, deny_at - len(program) - 1, 0, number))
    program.append((_BPF_RET_K, 0, 0, _RET_ALLOW))
    program.append((_BPF_RET_K, 0, 0, _RET_ERRNO | errno.EPERM))
    program.append((_BPF_RET_K, 0, 0, _RET_KILL_PROCESS))
    assert len(program) == kill_at + 1 and max(i[1] for i in program) < 256
    return program


def install() -> None:
    """Load the filter into this process (needs no_new_privs, which drop_privileges has set)."""
    program = build_filter(os.uname().machine)
    raw = b"".join(struct.pack("=HBBI", *instruction) for instruction in program)
    buffer = ctypes.create_string_buffer(raw, len(raw))
    fprog = _SockFprog(len(program), ctypes.addressof(buffer))
    libc = ctypes.CDLL(None, use_errno=True)
    result = libc.prctl(_PR_SET_SECCOMP, ctypes.c_ulong(_SECCOMP_MODE_FILTER), ctypes.byref(fprog), 0, 0)
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"installing the seccomp filter failed: {os.strerror(code)}")
