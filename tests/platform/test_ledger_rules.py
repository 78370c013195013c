"""The ledger refuses a log that contradicts itself: a gap or a reordering shows up, never a wrong sum."""

from __future__ import annotations

import pytest

from daifa.domain.ledger import ChainEvent, Ledger, LedgerMismatch
from daifa.domain.plans import Instalment, PlanParams, ReleaseRule

PARAMS = PlanParams(
    1, "0x" + "01" * 20, "0x" + "02" * 20, "0x" + "aa" * 20, "0x" + "03" * 20, "0x" + "03" * 20, 0, 0, 0, 10
)
INSTALMENT = Instalment(1, 2, 500, ReleaseRule.TIME)


def event(name: str, block: int = 1, **args: object) -> ChainEvent:
    return ChainEvent(name, args, block, 0)


def ledger_with_plan() -> Ledger:
    ledger = Ledger()
    ledger.apply(
        event(
            "PlanRecorded",
            planId=1,
            consentHash=b"\x01" * 32,
            params=PARAMS,
            instalments=[INSTALMENT],
            instalmentsRoot=b"\x02" * 32,
        )
    )
    return ledger


def test_events_for_an_unrecorded_plan_are_refused() -> None:
    with pytest.raises(LedgerMismatch, match="never recorded"):
        Ledger().apply(event("Deposited", planId=9, index=0, amount=500))


def test_a_plan_recorded_twice_is_refused() -> None:
    ledger = ledger_with_plan()
    with pytest.raises(LedgerMismatch, match="recorded twice"):
        ledger.apply(
            event("PlanRecorded", planId=1, consentHash=b"", params=PARAMS, instalments=[], instalmentsRoot=b"")
        )


def test_a_second_deposit_is_refused() -> None:
    ledger = ledger_with_plan()
    ledger.apply(event("Deposited", planId=1, index=0, amount=500))
    with pytest.raises(LedgerMismatch, match="deposit into"):
        ledger.apply(event("Deposited", planId=1, index=0, amount=500))


def test_a_deposit_of_another_amount_is_refused() -> None:
    with pytest.raises(LedgerMismatch, match="other than the instalment's amount"):
        ledger_with_plan().apply(event("Deposited", planId=1, index=0, amount=499))


def test_an_index_outside_the_plan_is_refused() -> None:
    with pytest.raises(LedgerMismatch, match="instalment 1 of a plan of 1"):
        ledger_with_plan().apply(event("Disputed", planId=1, index=1, by="0x", reasonHash=b""))


def test_closing_twice_is_refused() -> None:
    ledger = ledger_with_plan()
    ledger.apply(event("InstalmentCancelled", planId=1, index=0, refunded=0))
    with pytest.raises(LedgerMismatch, match="already closed"):
        ledger.apply(event("Released", planId=1, index=0, toPayee=500, fee=0))


def test_withdrawing_more_than_credited_is_refused() -> None:
    ledger = Ledger()
    ledger.apply(event("PaymentDeferred", token="0xAA", account="0xBB", amount=5))
    with pytest.raises(LedgerMismatch, match="more than was credited"):
        ledger.apply(event("Withdrawn", token="0xaa", account="0xbb", to="0xcc", amount=6))


def test_amending_a_touched_instalment_is_refused() -> None:
    ledger = ledger_with_plan()
    ledger.apply(event("Deposited", planId=1, index=0, amount=500))
    changed = Instalment(1, 2, 600, ReleaseRule.TIME)
    with pytest.raises(LedgerMismatch, match="which was touched"):
        ledger.apply(event("PlanAmended", planId=1, instalments=[changed], instalmentsRoot=b"\x03" * 32))


def test_events_the_ledger_does_not_track_pass_through() -> None:
    ledger = ledger_with_plan()
    ledger.apply(event("PartyApproved", account="0x", roles=1, documentsHash=b""))
    ledger.apply(event("ReleaseSkipped", planId=1, index=0, reason=b""))
    assert ledger.plans[1].deposited == 0
