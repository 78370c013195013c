"""check_plan_request: every problem the contracts would refuse is named before anything goes on chain."""

from __future__ import annotations

from dataclasses import replace

import pytest

from daifa.domain.plan_requests import ProductTerms, check_plan_request
from daifa.domain.plans import Instalment, PlanParams, ReleaseRule
from daifa.errors import InvalidInput

NOW = 1_900_000_000
DAY = 86_400
TOKEN = "0x" + "aa" * 20
PAYER = "0x" + "01" * 20
PAYEE = "0x" + "02" * 20
OPERATOR = "0x" + "03" * 20
ZERO = "0x" + "00" * 20

PRODUCT = ProductTerms(
    agreement_set_id=7,
    payer=PAYER,
    payee=PAYEE,
    tokens=frozenset({TOKEN}),
    limit=10_000,
    committed=4_000,
    expiry=NOW + 400 * DAY,
    is_open=True,
)
PARAMS = PlanParams(7, PAYER, PAYEE, TOKEN, OPERATOR, OPERATOR, 0, 0, 3 * DAY, NOW + 300 * DAY)
INSTALMENTS = [
    Instalment(NOW + 25 * DAY, NOW + 30 * DAY, 1_000, ReleaseRule.TIME),
    Instalment(NOW + 55 * DAY, NOW + 60 * DAY, 2_000, ReleaseRule.MATERIALS, b"\x01" * 32),
]


def problems(
    product: ProductTerms = PRODUCT, params: PlanParams = PARAMS, instalments: list[Instalment] | None = None
) -> dict[str, str]:
    with pytest.raises(InvalidInput) as refused:
        check_plan_request(product, params, INSTALMENTS if instalments is None else instalments, NOW)
    assert refused.value.http_status == 422
    return {p.field: p.message for p in refused.value.problems}


def test_a_valid_plan_returns_its_total() -> None:
    assert check_plan_request(PRODUCT, PARAMS, INSTALMENTS, NOW) == 3_000


def test_addresses_compare_without_regard_to_checksum_case() -> None:
    assert check_plan_request(PRODUCT, replace(PARAMS, token=TOKEN.upper().replace("0X", "0x")), INSTALMENTS, NOW)


def test_product_not_open() -> None:
    assert "not open" in problems(product=replace(PRODUCT, is_open=False))["agreement_set_id"]


def test_other_agreement_set() -> None:
    assert "must be 7" in problems(params=replace(PARAMS, agreement_set_id=8))["agreement_set_id"]


def test_other_parties() -> None:
    assert "product's parties" in problems(params=replace(PARAMS, payee=OPERATOR))["payer"]


def test_token_not_allowed() -> None:
    assert "allows only" in problems(params=replace(PARAMS, token=OPERATOR))["token"]


@pytest.mark.parametrize("expiry", [NOW, NOW + 401 * DAY])
def test_expiry_outside_now_and_product_expiry(expiry: int) -> None:
    assert "expiry" in problems(params=replace(PARAMS, expiry=expiry))


def test_fee_above_maximum() -> None:
    assert "fee_bps" in problems(params=replace(PARAMS, fee_bps=10_001, fee_recipient=OPERATOR))


def test_fee_without_recipient() -> None:
    assert "fee recipient" in problems(params=replace(PARAMS, fee_bps=30, fee_recipient=ZERO))["fee_recipient"]


def test_negative_fee_cap() -> None:
    assert "fee_cap" in problems(params=replace(PARAMS, fee_cap=-1))


def test_missing_arbiter() -> None:
    assert "arbiter" in problems(params=replace(PARAMS, arbiter=ZERO))


@pytest.mark.parametrize("count", [0, 253])
def test_instalment_count_out_of_range(count: int) -> None:
    instalments = [replace(INSTALMENTS[0], amount=1)] * count
    assert "1 to 252" in problems(instalments=instalments)["instalments"]


@pytest.mark.parametrize("amount", [0, -5, 2**128])
def test_amount_not_positive_or_overflowing(amount: int) -> None:
    assert "positive" in problems(instalments=[replace(INSTALMENTS[0], amount=amount)])["instalments[0].amount"]


def test_deposit_by_in_the_past() -> None:
    late = replace(INSTALMENTS[1], deposit_by=NOW)
    assert "future" in problems(instalments=[INSTALMENTS[0], late])["instalments[1].deposit_by"]


def test_times_out_of_order() -> None:
    bad = replace(INSTALMENTS[0], deposit_by=NOW + 31 * DAY)
    assert "after release_at" in problems(instalments=[bad])["instalments[0].deposit_by"]


def test_release_after_plan_expiry() -> None:
    bad = replace(INSTALMENTS[0], release_at=PARAMS.expiry + 1)
    assert "expiry" in problems(instalments=[bad])["instalments[0].release_at"]


def test_materials_rule_without_list() -> None:
    bad = replace(INSTALMENTS[1], materials_hash=b"\x00" * 32)
    assert "required materials" in problems(instalments=[bad])["instalments[0].materials_hash"]


def test_plan_beyond_the_products_remaining_limit() -> None:
    big = replace(INSTALMENTS[0], amount=6_001)
    assert "6000 left" in problems(instalments=[big])["instalments"]


def test_every_problem_is_reported_at_once() -> None:
    bad = replace(INSTALMENTS[0], amount=0, deposit_by=NOW - 1)
    found = problems(params=replace(PARAMS, arbiter=ZERO, token=OPERATOR), instalments=[bad])
    assert set(found) == {"arbiter", "token", "instalments[0].amount", "instalments[0].deposit_by"}
