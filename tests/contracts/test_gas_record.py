"""The gas record is reviewed: a figure above snapshots/gas.json fails until it is explained and recorded."""

from __future__ import annotations

import json

from bench.gas import SNAPSHOT, TARGETS, check, measure

from tests.chain_harness import anvil_chain


def test_gas_figures_do_not_exceed_the_committed_record() -> None:
    recorded = json.loads(SNAPSHOT.read_text())
    with anvil_chain() as chain:
        gas = measure(chain)
    assert check(gas, recorded) == []


def test_gas_record_names_every_target() -> None:
    recorded = json.loads(SNAPSHOT.read_text())
    assert set(TARGETS) <= set(recorded)
