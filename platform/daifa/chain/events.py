"""The escrow's logs as domain events, including what they carry beyond plain ABI values."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from eth_utils.abi import event_abi_to_log_topic
from web3.contract import Contract
from web3.types import LogReceipt

from daifa.domain.ledger import ChainEvent
from daifa.domain.plans import Instalment, PlanParams, ReleaseRule

PACKED_INSTALMENT_SIZE = 59


def unpack_instalments(packed: bytes) -> list[Instalment]:
    """The instalments of a PlanRecorded or PlanAmended event (PlanHashing.packInstalments): 59 bytes
    each, depositBy (5), releaseAt (5), amount (16), rule (1), materialsHash (32), big-endian."""
    if len(packed) % PACKED_INSTALMENT_SIZE:
        raise ValueError(f"packed instalments must be a multiple of {PACKED_INSTALMENT_SIZE} bytes, got {len(packed)}")
    instalments = []
    for start in range(0, len(packed), PACKED_INSTALMENT_SIZE):
        chunk = packed[start : start + PACKED_INSTALMENT_SIZE]
        instalments.append(
            Instalment(
                deposit_by=int.from_bytes(chunk[0:5], "big"),
                release_at=int.from_bytes(chunk[5:10], "big"),
                amount=int.from_bytes(chunk[10:26], "big"),
                rule=ReleaseRule(chunk[26]),
                materials_hash=bytes(chunk[27:59]),
            )
        )
    return instalments


def plan_params_from_event(p: Mapping[str, Any]) -> PlanParams:
    """A PlanRecorded event's `params` tuple as PlanParams."""
    return PlanParams(
        agreement_set_id=int(p["agreementSetId"]),
        payer=str(p["payer"]),
        payee=str(p["payee"]),
        token=str(p["token"]),
        arbiter=str(p["arbiter"]),
        fee_recipient=str(p["feeRecipient"]),
        fee_bps=int(p["feeBps"]),
        fee_cap=int(p["feeCap"]),
        review_window=int(p["reviewWindow"]),
        expiry=int(p["expiry"]),
    )


class EscrowDecoder:
    """Decodes the escrow's logs into ChainEvents; logs of other contracts or events decode to None."""

    def __init__(self, escrow: Contract) -> None:
        self.escrow = escrow
        self._names = {event_abi_to_log_topic(item): item["name"] for item in escrow.abi if item["type"] == "event"}

    def decode(self, log: LogReceipt) -> ChainEvent | None:
        if log["address"].lower() != self.escrow.address.lower() or not log["topics"]:
            return None
        name = self._names.get(bytes(log["topics"][0]))
        if name is None:
            return None
        args = dict(getattr(self.escrow.events, name)().process_log(log)["args"])
        for key, value in args.items():
            if isinstance(value, bytes):
                args[key] = bytes(value)
        if name in ("PlanRecorded", "PlanAmended"):
            args["instalments"] = unpack_instalments(args.pop("packedInstalments"))
        if name == "PlanRecorded":
            args["params"] = plan_params_from_event(args["params"])
        return ChainEvent(name, args, int(log["blockNumber"]), int(log["logIndex"]))


def decode_escrow_logs(escrow: Contract, logs: Iterable[LogReceipt]) -> list[ChainEvent]:
    """The escrow's logs as ChainEvents in chain order; logs of other contracts or events are left out."""
    decoder = EscrowDecoder(escrow)
    events = []
    for log in sorted(logs, key=lambda entry: (entry["blockNumber"], entry["logIndex"])):
        event = decoder.decode(log)
        if event is not None:
            events.append(event)
    return events
