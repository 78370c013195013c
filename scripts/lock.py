"""Writes the lock files from the packages installed in this virtualenv (`make lock`).

- requirements.lock: what the platform runs on: `daifa[server,devnet]` and everything it pulls in.
- requirements-dev.lock: what only its tests and tools add (`daifa[dev]`), on top of requirements.lock.
- requirements-sdk.lock: what `pip install daifa` alone pulls in (the SDK, the wallet, the client
  commands), and the build backend to build daifa itself: the SDK install test builds it offline from
  these.

Each is the closure of pyproject.toml's requirements over the installed distributions' own metadata, so
a package no requirement reaches is in none of them.
"""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
BUILD_BACKEND = "setuptools==84.2.1"  # pyproject's build-system requires setuptools>=75
HEADER = "# {what}\n# Regenerate with `make lock` after changing pyproject.toml.\n"


def closure(requirements: Iterable[str]) -> dict[str, str]:
    """name -> installed version of every distribution the requirements reach (markers evaluated here)."""
    found: dict[str, str] = {}
    extras_seen: dict[str, set[str]] = {}
    todo = [Requirement(r) for r in requirements]
    while todo:
        requirement = todo.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        name = canonicalize_name(requirement.name)
        if name in found and requirement.extras <= extras_seen[name]:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            sys.exit(f"{requirement.name} is required but not installed: `make setup` first")
        found[name] = dist.version
        extras_seen.setdefault(name, set()).update(requirement.extras)
        for line in dist.requires or []:
            inner = Requirement(line)
            wanted = ("", *requirement.extras)
            if inner.marker is None or any(inner.marker.evaluate({"extra": e}) for e in wanted):
                inner.marker = None  # evaluated, with this requirement's extras
                todo.append(inner)
    return found


def write(path: Path, what: str, pins: dict[str, str], extra_lines: Iterable[str] = ()) -> None:
    names = {canonicalize_name(d.metadata["Name"]): d.metadata["Name"] for d in metadata.distributions()}
    lines = [f"{names.get(n, n)}=={v}" for n, v in sorted(pins.items())]
    path.write_text(HEADER.format(what=what) + "\n".join([*lines, *extra_lines]) + "\n")


def main() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    base, extras = project["dependencies"], project["optional-dependencies"]
    sdk = closure(base)
    runtime = closure([*base, *extras["server"], *extras["devnet"]])
    development = {n: v for n, v in closure(extras["dev"]).items() if n not in runtime}
    write(ROOT / "requirements.lock", "What the platform runs on: daifa[server,devnet] (`make demo`).", runtime)
    write(ROOT / "requirements-dev.lock", "What its tests and tools add (`make test`).", development)
    write(
        ROOT / "requirements-sdk.lock",
        "What `pip install daifa` alone installs, and the build backend: the SDK install test's wheels.",
        sdk,
        [BUILD_BACKEND],
    )
    print(f"runtime {len(runtime)}, development {len(development)}, sdk {len(sdk)} packages")


if __name__ == "__main__":
    main()
