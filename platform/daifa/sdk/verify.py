"""Checking a plan against the chain without trusting the platform: the terms the API shows are hashed
again here, the way the contracts hash them, and compared with what the chain holds; every document is
downloaded, hashed, and its hash looked for on chain. What `daifa verify plan` prints."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_utils.crypto import keccak
from web3 import Web3

from daifa import wire as s
from daifa.chain import typed_data as td
from daifa.chain.artifacts import load_artifact
from daifa.chain.events import unpack_instalments
from daifa.domain.plans import Instalment, PlanParams, ReleaseRule, materials_hash
from daifa.sdk.client import Client

AGREEMENT_FIELDS = ("payerPlatformAgreement", "payeePlatformAgreement", "payerPayeeAgreement")
RULES = {"time": ReleaseRule.TIME, "payer_approval": ReleaseRule.PAYER_APPROVAL, "materials": ReleaseRule.MATERIALS}


@dataclass(frozen=True)
class Check:
    what: str
    ok: bool
    detail: str = ""


def verify_plan(client: Client, w3: Web3, plan_id: str) -> list[Check]:
    plan = client.get_plan(plan_id)
    address = Web3.to_checksum_address(client.health().escrow)
    escrow = w3.eth.contract(address=address, abi=load_artifact("DaifaEscrow")["abi"])
    checks: list[Check] = []

    def check(what: str, ok: bool, detail: str = "") -> None:
        checks.append(Check(what, ok, detail))

    terms = [_terms(i) for i in plan.instalments]
    params = _params(plan)
    for item, term in zip(plan.instalments, terms, strict=True):
        listed = materials_hash(item.required_materials, item.verification)
        check(f"instalment {item.index}: materials hash = its materials list", listed == term.materials_hash)

    def consent_over(signed: list[Instalment]) -> None:
        hashed = td.plan_consent_hash(params, signed, plan.payer_nonce, plan.payee_nonce, plan.deadline)
        check("terms hash to the consent hash both parties signed", "0x" + hashed.hex() == plan.consent_hash)

    if plan.chain_plan_id is None:
        consent_over(terms)
        check("plan recorded on chain", False, f"the plan is {plan.status}")
        return checks

    chain_plan = {"planId": plan.chain_plan_id}
    logs = escrow.events.PlanRecorded.get_logs(argument_filters=chain_plan, from_block=0)
    if not logs:
        consent_over(terms)
        check("PlanRecorded event on chain", False, "no such event")
    else:
        args = logs[0]["args"]
        recorded = unpack_instalments(bytes(args["packedInstalments"]))
        consent_over(recorded)  # what both signed is what was recorded, whatever was amended since
        check(
            "PlanRecorded carries the same consent hash", "0x" + bytes(args["consentHash"]).hex() == plan.consent_hash
        )
        # Each amendment's signatures were checked by the contract before it logged PlanAmended.
        amendments = escrow.events.PlanAmended.get_logs(argument_filters=chain_plan, from_block=0)
        latest = bytes(amendments[-1]["args"]["packedInstalments"]) if amendments else None
        on_chain = recorded if latest is None else unpack_instalments(latest)
        since = f", amended {len(amendments)} time(s) since" if amendments else ""
        check(f"the instalments shown are those recorded on chain{since}", on_chain == terms)
    commitment = bytes(escrow.functions.planCommitment(plan.chain_plan_id).call())
    expected = td.plan_commitment(params, td.instalments_root(terms))
    check("the chain's commitment = hash(terms, instalments)", commitment == expected)
    for item in plan.instalments:
        status = int(escrow.functions.instalmentStatus(plan.chain_plan_id, item.index).call())
        check(f"instalment {item.index}: {item.status} on chain too", status == item.status_bits, f"chain {status}")
    checks += _documents(client, escrow, plan)
    return checks


def _documents(client: Client, escrow: Any, plan: s.PlanOut) -> list[Check]:
    checks = []
    product = client.get_product(plan.product)
    recorded: set[bytes] = set()
    if product.agreement_set_id is not None:
        filters = {"agreementSetId": product.agreement_set_id}
        for log in escrow.events.AgreementSetRecorded.get_logs(argument_filters=filters, from_block=0):
            p = log["args"]["params"]
            recorded |= {
                bytes(p[k]) for k in ("payerPlatformAgreement", "payeePlatformAgreement", "payerPayeeAgreement")
            }
    for document in (d for d in product.documents if d.purpose == "agreement"):
        data = client.download_document(document.id)
        checks.append(Check(f"agreement {document.filename}: bytes hash to its id", _hex(data) == document.hash))
        checks.append(Check(f"agreement {document.filename}: in the agreement set on chain", keccak(data) in recorded))
    for action in client.list_actions(plan.id):
        if not action.documents or action.kind not in ("materials", "dispute"):
            continue
        hashes = []
        for document in action.documents:
            data = client.download_document(document.id)
            hashes.append(keccak(data))
            checks.append(
                Check(f"{action.kind} {document.filename}: bytes hash to its id", _hex(data) == document.hash)
            )
        combined = keccak(b"".join(sorted(set(hashes))))
        index = action.indices[0]
        if action.kind == "materials":
            delivered, _ = escrow.functions.materials(plan.chain_plan_id, index).call()
            checks.append(Check(f"instalment {index}: delivered materials hash on chain", bytes(delivered) == combined))
        else:
            logs = escrow.events.Disputed.get_logs(argument_filters={"planId": plan.chain_plan_id}, from_block=0)
            reasons = {bytes(log["args"]["reasonHash"]) for log in logs if log["args"]["index"] == index}
            checks.append(Check(f"instalment {index}: dispute reason and evidence on chain", combined in reasons))
    return checks


def _hex(data: bytes) -> str:
    return "0x" + keccak(data).hex()


def _terms(item: s.InstalmentOut) -> Instalment:
    return Instalment(
        item.deposit_by, item.release_at, item.amount, RULES[item.rule], bytes.fromhex(item.materials_hash[2:])
    )


def _params(plan: s.PlanOut) -> PlanParams:
    return PlanParams(
        agreement_set_id=plan.agreement_set_id or 0,
        payer=plan.payer_address,
        payee=plan.payee_address,
        token=plan.token,
        arbiter=plan.arbiter,
        fee_recipient=plan.fee_recipient,
        fee_bps=plan.fee_bps,
        fee_cap=plan.fee_cap,
        review_window=plan.review_window,
        expiry=plan.expiry,
    )
