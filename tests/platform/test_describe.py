"""What `daifa sign` shows a person before signing: every term in words and units, hand-checked."""

from __future__ import annotations

from web3 import Web3

from daifa.chain import typed_data as td
from daifa.describe import describe, units
from daifa.domain.plans import Instalment, PlanParams, ReleaseRule

ESCROW = "0x" + "ab" * 20
PAYER, PAYEE, TOKEN, OPERATOR = (
    "0x1111111111111111111111111111111111111111",
    "0x2222222222222222222222222222222222222222",
    "0x3333333333333333333333333333333333333333",
    "0x4444444444444444444444444444444444444444",
)
CONTEXT = {
    "parties": {
        "payer": {"address": PAYER, "legal_name": "华东物流有限公司"},
        "payee": {"address": PAYEE, "legal_name": "Xinda Labour Services Co., Ltd."},
    },
    "token": {"address": TOKEN, "symbol": "tUSD", "decimals": 6},
    "plan": "pln_7",
}
JAN_1_2027 = 1_798_761_600  # 2027-01-01T00:00Z


def test_units() -> None:
    assert units(24_000_000_000, 6) == "24,000.00"
    assert units(12_345_678_901, 6) == "12,345.678901"
    assert units(500_000, 6) == "0.50"
    assert units(12_345 * 10**18 + 1, 18) == "12,345.000000000000000001"
    assert units(42, 0) == "42"


def test_a_plan_is_shown_in_units_dates_and_names() -> None:
    params = PlanParams(
        1, PAYER, PAYEE, TOKEN, OPERATOR, OPERATOR, 30, 20_000_000, 3 * 86_400, JAN_1_2027 + 90 * 86_400
    )
    instalments = [
        Instalment(JAN_1_2027, JAN_1_2027 + 86_400, 24_000_000_000, ReleaseRule.TIME, b"\0" * 32),
        Instalment(JAN_1_2027, JAN_1_2027 + 2 * 86_400, 500_000, ReleaseRule.PAYER_APPROVAL, b"\0" * 32),
    ]
    typed = td.as_json(td.payload("Plan", td.plan_message(params, instalments, 5, 6, JAN_1_2027), 31337, ESCROW))
    rows = dict(describe(typed, CONTEXT, zone="Asia/Shanghai"))
    assert rows["what"] == "a disbursement plan"
    assert rows["payer"] == f"华东物流有限公司 ({PAYER})" and rows["payee"].startswith("Xinda Labour Services")
    assert rows["total"] == "24,000.50 tUSD"
    assert rows["fee"] == f"0.30% of each release, at most 20.00 tUSD to {OPERATOR}"
    assert rows["arbiter"].startswith(OPERATOR)
    assert rows["review window"] == "3 days after materials are attested"
    assert rows["instalment 0"] == (
        "24,000.00 tUSD; deposit by 2027-01-01T08:00+08:00; release from 2027-01-02T08:00+08:00; "
        "rule: time (released at its time)"
    )
    assert rows["instalment 1"].endswith("rule: payer approval") and rows["instalment 1"].startswith("0.50 tUSD")
    assert rows["sign by"] == "2027-01-01T08:00+08:00"
    assert rows["digest"] == "0x" + td.payload_digest(typed).hex()


def test_an_agreement_set_shows_the_agreements_titles_first_lines_and_hashes() -> None:
    context = {
        "parties": CONTEXT["parties"],
        "tokens": [CONTEXT["token"]],
        "documents": [{"title": "payer-platform.txt", "first_line": "Agreement between the payer and Daifa",
                       "hash": "0x" + "aa" * 32}],
    }  # fmt: skip
    from daifa.domain.plans import AgreementSetParams

    params = AgreementSetParams(PAYER, PAYEE, b"\xaa" * 32, b"\xbb" * 32, b"\xcc" * 32, (TOKEN,), 10**12, JAN_1_2027)
    typed = td.as_json(td.payload("AgreementSet", td.agreement_set_message(params, 1, 2, JAN_1_2027), 31337, ESCROW))
    rows = dict(describe(typed, context, zone="UTC"))
    assert rows["credit limit"] == "1,000,000.00 tUSD"
    assert rows["payer-platform.txt"] == f"Agreement between the payer and Daifa (hash 0x{'aa' * 32})"
    assert rows["open until"] == "2027-01-01T00:00+00:00"


def test_a_permit_says_who_may_take_how_much() -> None:
    typed = td.as_json(
        td.permit_payload("Daifa Test Dollar", TOKEN, 31337, PAYER, ESCROW, 3_000_000_000, 0, JAN_1_2027)
    )
    rows = dict(describe(typed, CONTEXT, zone="UTC"))
    assert rows["allow"] == f"{Web3.to_checksum_address(ESCROW)} to take 3,000.00 tUSD"
    assert rows["until"] == "2027-01-01T00:00+00:00"
