"""Settings of the platform's long-running processes that no library may be left to choose."""

from __future__ import annotations

import sys


def restore_recursion_limit() -> None:
    """Puts Python's recursion limit back where CPython sets it. web3 imports py_ecc, which raises it to
    100,000, and py-evm (the embedded chain) to 12,288; a process that parses what strangers send must not
    run that deep, or one deeply nested input overflows the C stack and kills it. Call it after those
    imports. (The embedded chain runs the platform's contracts well within 1,000: `make demo` does.)"""
    sys.setrecursionlimit(1_000)
