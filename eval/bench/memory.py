"""Resident memory of a process, from psutil when installed, else Linux's /proc/<pid>/status."""

from __future__ import annotations

import os
from pathlib import Path

try:  # optional: not a dependency of the project
    import psutil
except ImportError:  # pragma: no cover - depends on the environment
    psutil = None

MB = 1024 * 1024


def proc_status(pid: int | None = None) -> dict[str, int]:
    """The memory lines of /proc/<pid>/status in bytes: VmRSS, VmHWM, RssAnon, RssFile, RssShmem.

    RssAnon is memory the process owns; RssFile is file pages it has mapped and touched (a
    memory-mapped index lives there, shared with the page cache rather than copied).
    """
    path = Path(f"/proc/{pid or os.getpid()}/status")
    out: dict[str, int] = {}
    try:
        text = path.read_text()
    except OSError:
        return out
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        if name in {"VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"}:
            parts = rest.split()
            if parts:
                out[name] = int(parts[0]) * 1024  # reported in kB
    return out


def rss_bytes(pid: int | None = None) -> int | None:
    """Current resident set size of `pid` (default: this process)."""
    if psutil is not None:
        try:
            return int(psutil.Process(pid or os.getpid()).memory_info().rss)
        except psutil.Error:
            return None
    return proc_status(pid).get("VmRSS")


def peak_rss_bytes(pid: int | None = None) -> int | None:
    """Peak resident set size (VmHWM) of `pid`: the kernel's own high-water mark, so no sampling
    can miss a short spike. psutil has no portable peak, so this always reads /proc."""
    return proc_status(pid).get("VmHWM")
