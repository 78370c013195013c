"""The gas record is reviewed: a figure above snapshots/gas.json fails until it is explained and recorded."""

from __future__ import annotations

import json

from tests.chain_harness import anvil_chain
from tests.gas_record import SNAPSHOT, TARGETS, check, measure


def test_gas_figures_do_not_exceed_the_committed_record() -> None:
    recorded = json.loads(SNAPSHOT.read_text())
    with anvil_chain() as chain:
        gas = measure(chain)
    assert check(gas, recorded) == []


def test_gas_record_names_every_target() -> None:
    recorded = json.loads(SNAPSHOT.read_text())
    assert set(TARGETS) <= set(recorded)
