"""What to do when a test needs something its machine lacks (a PostgreSQL server, brownie's virtualenv):
skip on a developer's machine, fail in CI, where `make test` must have set everything up."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

CI_ENV = "DAIFA_CI"  # .ci/run sets it


def missing(what: str, how: str) -> NoReturn:
    if os.environ.get(CI_ENV):
        pytest.fail(f"{what} is missing in CI: {how}")
    pytest.skip(f"{what} is missing: {how}")
