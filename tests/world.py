"""A deployed Daifa world for tests and benchmarks: operator, approved payer and payee, a token, an
open agreement set, and helpers that build, sign and record plans exactly as the platform will."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import TxReceipt

from daifa.chain import abi
from daifa.chain import typed_data as td
from daifa.domain.plans import AgreementSetParams, Instalment, PlanParams, ReleaseRule
from tests.chain_harness import Chain

DAY = 86_400
MAX_UINT = 2**256 - 1
USD = 10**6  # the test dollar has 6 decimals


NewPlan = tuple[PlanParams, tuple[Instalment, ...], tuple[object, ...]]
"""A plan's params, instalments and both parties' consent, not yet recorded (`DaifaTypes.NewPlan`)."""


def encode_plans(plans: Sequence[NewPlan]) -> list[tuple[object, ...]]:
    return [(abi.plan_params(p), [abi.instalment(i) for i in ins], auth) for p, ins, auth in plans]


@dataclass(frozen=True)
class Plan:
    id: int
    params: PlanParams
    instalments: tuple[Instalment, ...]
    receipt: TxReceipt

    @property
    def params_abi(self) -> tuple[object, ...]:
        return abi.plan_params(self.params)

    @property
    def root(self) -> bytes:
        return td.instalments_root(self.instalments)

    def ref(self, index: int, instalment: Instalment | None = None) -> tuple[object, ...]:
        """Instalment `index` with its proof; pass `instalment` to forge a different one at that index."""
        return abi.instalment_ref(
            index, instalment or self.instalments[index], td.instalment_proof(self.instalments, index)
        )

    def refs(self, indices: Sequence[int]) -> list[tuple[object, ...]]:
        return [self.ref(i) for i in indices]

    def total(self) -> int:
        return sum(i.amount for i in self.instalments)


class World:
    def __init__(self, chain: Chain, token_name: str = "DaifaTestDollar", token_args: Sequence[Any] = ()) -> None:
        self.chain = chain
        self.operator = chain.account("operator")
        self.payer = chain.account("payer")
        self.payee = chain.account("payee")
        self.fee_recipient = chain.account("fee-recipient")
        self.outsider = chain.account("outsider")
        self.escrow = chain.deploy("DaifaEscrow", self.operator.address, sender=self.operator)
        self.token = chain.deploy(token_name, *token_args, sender=self.operator)
        self._nonces = itertools.count(1)
        self.approve_party(self.payer, 1)
        self.approve_party(self.payee, 2)
        self.fund(self.payer, 1_000_000 * USD)
        self.send(self.token.functions.approve(self.escrow.address, MAX_UINT), self.payer)
        self.agreement_set_id = self.open_agreement_set()

    # ---------------------------------------------------------------- plumbing

    def send(self, call: Any, sender: LocalAccount, gas: int | None = None) -> TxReceipt:
        return self.chain.send(call, sender, gas)

    def nonce(self) -> int:
        return next(self._nonces)

    def reset_nonces(self) -> None:
        """After a chain snapshot is restored, signature nonces may be used again."""
        self._nonces = itertools.count(1000)

    def sign(self, signer: LocalAccount, primary: str, message: dict[str, Any]) -> bytes:
        return self.chain.sign_typed(signer, td.payload(primary, message, self.chain.chain_id, self.escrow.address))

    def permit(self, value: int, deadline: int, nonce: int | None = None) -> tuple[object, ...]:
        """The payer's EIP-2612 permit for the escrow to pull `value` of the token, as IEscrow.Permit."""
        token = self.token
        message = td.permit_payload(
            token.functions.name().call(),
            token.address,
            self.chain.chain_id,
            self.payer.address,
            self.escrow.address,
            value,
            nonce if nonce is not None else token.functions.nonces(self.payer.address).call(),
            deadline,
        )
        signed = self.payer.sign_typed_data(full_message=message)
        return (value, deadline, signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big"))

    def deposit_authorization(
        self, plan: Plan, indices: Sequence[int], signer: LocalAccount | None = None
    ) -> tuple[object, ...]:
        """The payer's signed consent to fund exactly `indices` of `plan` through depositWithPermit."""
        nonce, deadline = self.nonce(), self.chain.now() + DAY
        message = td.deposit_authorization_message(plan.id, indices, nonce, deadline)
        return abi.party_signature(nonce, deadline, self.sign(signer or self.payer, "DepositAuthorization", message))

    def fund(self, account: LocalAccount | str, amount: int, token: Contract | None = None) -> None:
        token = token or self.token
        address = account if isinstance(account, str) else account.address
        mint = token.functions.faucet if "faucet" in dir(token.functions) else token.functions.mint
        self.send(mint(address, amount), self.operator)

    def balance(self, account: LocalAccount | str, token: Contract | None = None) -> int:
        address = account if isinstance(account, str) else account.address
        return int((token or self.token).functions.balanceOf(address).call())

    def status(self, plan: Plan, index: int) -> int:
        return int(self.escrow.functions.instalmentStatus(plan.id, index).call())

    def events(self, receipt: TxReceipt, name: str) -> list[dict[str, Any]]:
        event = getattr(self.escrow.events, name)()
        return [dict(e["args"]) for e in event.process_receipt(receipt, errors=DISCARD)]

    # ---------------------------------------------------------------- parties and agreement sets

    def approve_party(self, account: LocalAccount | str, roles: int) -> TxReceipt:
        address = account if isinstance(account, str) else account.address
        return self.send(
            self.escrow.functions.approveParty(address, roles, keccak(text=f"docs:{address}")), self.operator
        )

    def agreement_set_params(self, **overrides: Any) -> AgreementSetParams:
        params = AgreementSetParams(
            payer=self.payer.address,
            payee=self.payee.address,
            payer_platform_agreement=keccak(text="payer-platform agreement"),
            payee_platform_agreement=keccak(text="payee-platform agreement"),
            payer_payee_agreement=keccak(text="payer-payee agreement"),
            tokens=(self.token.address,),
            limit=10_000_000 * USD,
            expiry=self.chain.now() + 3650 * DAY,
        )
        return replace(params, **overrides)

    def agreement_set_auth(
        self,
        params: AgreementSetParams,
        payer: LocalAccount | None = None,
        payee: LocalAccount | None = None,
        deadline: int | None = None,
    ) -> tuple[object, ...]:
        payer_nonce, payee_nonce = self.nonce(), self.nonce()
        deadline = deadline if deadline is not None else self.chain.now() + DAY
        message = td.agreement_set_message(params, payer_nonce, payee_nonce, deadline)
        return abi.joint_authorization(
            payer_nonce,
            payee_nonce,
            deadline,
            self.sign(payer or self.payer, "AgreementSet", message),
            self.sign(payee or self.payee, "AgreementSet", message),
        )

    def open_agreement_set(self, **overrides: Any) -> int:
        params = self.agreement_set_params(**overrides)
        receipt = self.send(
            self.escrow.functions.recordAgreementSet(abi.agreement_set(params), self.agreement_set_auth(params)),
            self.outsider,
        )
        return int(self.events(receipt, "AgreementSetRecorded")[0]["agreementSetId"])

    def adopt_token(self, name: str, *args: Any) -> tuple[Contract, int]:
        """Deploys test token `name`, funds and approves the payer, and opens an agreement set for it."""
        token = self.chain.deploy(name, *args, sender=self.operator)
        self.fund(self.payer, 1_000_000 * 10**18, token)
        self.send(token.functions.approve(self.escrow.address, MAX_UINT), self.payer)
        return token, self.open_agreement_set(tokens=(token.address,))

    # ---------------------------------------------------------------- plans

    def instalments(
        self,
        count: int,
        rule: ReleaseRule = ReleaseRule.TIME,
        amount: int = 1_000 * USD,
        first_release_in: int = 30 * DAY,
        every: int = 30 * DAY,
    ) -> list[Instalment]:
        now = self.chain.now()
        materials = keccak(text="timesheet, payroll register") if rule == ReleaseRule.MATERIALS else b"\x00" * 32
        return [
            Instalment(
                deposit_by=now + first_release_in + i * every - 5 * DAY,
                release_at=now + first_release_in + i * every,
                amount=amount,
                rule=rule,
                materials_hash=materials,
            )
            for i in range(count)
        ]

    def plan_params(self, **overrides: Any) -> PlanParams:
        params = PlanParams(
            agreement_set_id=self.agreement_set_id,
            payer=self.payer.address,
            payee=self.payee.address,
            token=self.token.address,
            arbiter=self.operator.address,
            fee_recipient=self.fee_recipient.address,
            fee_bps=0,
            fee_cap=0,
            review_window=3 * DAY,
            expiry=self.chain.now() + 700 * DAY,
        )
        return replace(params, **overrides)

    def plan_auth(
        self,
        params: PlanParams,
        instalments: Sequence[Instalment],
        payer: LocalAccount | None = None,
        payee: LocalAccount | None = None,
        deadline: int | None = None,
        nonces: tuple[int, int] | None = None,
        payer_sends: bool = False,
    ) -> tuple[object, ...]:
        """Both parties' consent; with `payer_sends`, only the payee signs (the payer sends the transaction)."""
        payer_nonce, payee_nonce = nonces or (self.nonce(), self.nonce())
        deadline = deadline if deadline is not None else self.chain.now() + DAY
        message = td.plan_message(params, instalments, payer_nonce, payee_nonce, deadline)
        return abi.joint_authorization(
            payer_nonce,
            payee_nonce,
            deadline,
            b"" if payer_sends else self.sign(payer or self.payer, "Plan", message),
            self.sign(payee or self.payee, "Plan", message),
        )

    def record_plan(
        self,
        instalments: Sequence[Instalment] | None = None,
        params: PlanParams | None = None,
        auth: tuple[object, ...] | None = None,
        sender: LocalAccount | None = None,
    ) -> Plan:
        instalments = list(instalments if instalments is not None else self.instalments(3))
        params = params or self.plan_params()
        auth = auth or self.plan_auth(params, instalments)
        receipt = self.send(
            self.escrow.functions.recordPlan(abi.plan_params(params), [abi.instalment(i) for i in instalments], auth),
            sender or self.outsider,
        )
        plan_id = int(self.events(receipt, "PlanRecorded")[0]["planId"])
        return Plan(plan_id, params, tuple(instalments), receipt)

    def new_plan(
        self,
        instalments: Sequence[Instalment],
        params: PlanParams | None = None,
        auth: tuple[object, ...] | None = None,
    ) -> NewPlan:
        """A plan signed by both parties (by default) and not yet recorded."""
        params = params or self.plan_params()
        return params, tuple(instalments), auth or self.plan_auth(params, instalments)

    def record_plans(self, plans: Sequence[NewPlan], sender: LocalAccount | None = None) -> list[Plan]:
        """Records `plans` (from {new_plan}) in one relayed recordPlans transaction."""
        return self._recorded(
            plans, self.send(self.escrow.functions.recordPlans(encode_plans(plans)), sender or self.outsider)
        )

    def record_and_fund(self, plans: Sequence[NewPlan], sender: LocalAccount | None = None) -> list[Plan]:
        """Records `plans` (from {new_plan}) and funds every instalment from `sender`'s tokens in one
        transaction: recordPlanAndDeposit for one plan, recordPlansAndDeposit for more."""
        encoded = encode_plans(plans)
        call = (
            self.escrow.functions.recordPlanAndDeposit(*encoded[0])
            if len(encoded) == 1
            else self.escrow.functions.recordPlansAndDeposit(encoded)
        )
        return self._recorded(plans, self.send(call, sender or self.payer))

    def _recorded(self, plans: Sequence[NewPlan], receipt: TxReceipt) -> list[Plan]:
        ids = [int(e["planId"]) for e in self.events(receipt, "PlanRecorded")]
        return [Plan(i, p, ins, receipt) for i, (p, ins, _) in zip(ids, plans, strict=True)]

    def deposit_instalments(self, plan: Plan, indices: Sequence[int], sender: LocalAccount | None = None) -> TxReceipt:
        """Funds `indices` given the plan's whole instalment list instead of one proof each."""
        call = self.escrow.functions.depositInstalments(
            plan.id, plan.params_abi, [abi.instalment(i) for i in plan.instalments], list(indices)
        )
        return self.send(call, sender or self.payer)

    def deposit(self, plan: Plan, indices: Sequence[int], sender: LocalAccount | None = None) -> TxReceipt:
        return self.send(
            self.escrow.functions.deposit(plan.id, plan.params_abi, plan.refs(indices)), sender or self.payer
        )

    def release(self, plan: Plan, index: int, sender: LocalAccount | None = None) -> TxReceipt:
        return self.send(
            self.escrow.functions.release(plan.id, plan.params_abi, plan.ref(index)), sender or self.outsider
        )

    def approve_release(self, plan: Plan, index: int) -> TxReceipt:
        return self.send(
            self.escrow.functions.approveRelease(plan.id, plan.params_abi, plan.ref(index), abi.NO_SIGNATURE),
            self.payer,
        )

    def submit_and_attest(self, plan: Plan, index: int, delivered: bytes | None = None) -> TxReceipt:
        delivered = delivered or keccak(text=f"delivered materials {index}")
        self.send(
            self.escrow.functions.submitMaterials(
                plan.id, plan.params_abi, plan.ref(index), delivered, abi.NO_SIGNATURE
            ),
            self.payee,
        )
        return self.send(
            self.escrow.functions.attestMaterials(plan.id, plan.params_abi, plan.ref(index), delivered), self.operator
        )

    def dispute(self, plan: Plan, index: int, by: LocalAccount | None = None) -> TxReceipt:
        by = by or self.payer
        return self.send(
            self.escrow.functions.dispute(
                plan.id, plan.params_abi, plan.ref(index), by.address, keccak(text="reason"), abi.NO_SIGNATURE
            ),
            by,
        )

    def amend(
        self, plan: Plan, amended: Sequence[Instalment], current: Sequence[Instalment] | None = None
    ) -> TxReceipt:
        """Both parties sign and anyone relays the replacement of `plan`'s instalments (`current` may be
        given to send other instalments than the plan's, to see them refused)."""
        current = list(plan.instalments if current is None else current)
        payer_nonce, payee_nonce = self.nonce(), self.nonce()
        deadline = self.chain.now() + DAY
        message = td.amendment_message(
            plan.id, td.instalments_root(current), amended, payer_nonce, payee_nonce, deadline
        )
        auth = abi.joint_authorization(
            payer_nonce,
            payee_nonce,
            deadline,
            self.sign(self.payer, "Amendment", message),
            self.sign(self.payee, "Amendment", message),
        )
        call = self.escrow.functions.amendPlan(
            plan.id, plan.params_abi, [abi.instalment(i) for i in current], [abi.instalment(i) for i in amended], auth
        )
        return self.send(call, self.outsider)

    def cancellation_auth(
        self, plan: Plan, indices: Sequence[int], payer: LocalAccount | None = None, payee: LocalAccount | None = None
    ) -> tuple[object, ...]:
        payer_nonce, payee_nonce = self.nonce(), self.nonce()
        deadline = self.chain.now() + DAY
        message = td.cancellation_message(plan.id, indices, payer_nonce, payee_nonce, deadline)
        return abi.joint_authorization(
            payer_nonce,
            payee_nonce,
            deadline,
            self.sign(payer or self.payer, "Cancellation", message),
            self.sign(payee or self.payee, "Cancellation", message),
        )

    def cancel(self, plan: Plan, indices: Sequence[int]) -> TxReceipt:
        return self.send(
            self.escrow.functions.cancelInstalments(
                plan.id, plan.params_abi, plan.refs(indices), self.cancellation_auth(plan, indices)
            ),
            self.outsider,
        )
