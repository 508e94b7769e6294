"""Run a child process that file permissions apply to, even when the tests run as root.

Root ignores file modes through the capabilities CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH and
CAP_FOWNER. Dropped from the child's bounding set before it executes, they are gone from the
program it runs (capabilities(7), "Transformation of capabilities during execve"), so a folder
made read-only with chmod is read-only to it. For any other user, modes apply anyway.
"""

from __future__ import annotations

import ctypes
import os

PR_CAPBSET_DROP = 24
CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER = 1, 2, 3


def respect_file_modes() -> None:
    """preexec_fn for subprocess: in the child, drop root's power to ignore file modes."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER):
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), f"cannot drop capability {capability}")
