"""The escrow's logs as domain events, including what they carry beyond plain ABI values."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_utils.abi import collapse_if_tuple, event_abi_to_log_topic
from web3.contract import Contract
from web3.types import LogReceipt

from daifa.chain.abi import to_checksum_address
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


@dataclass(frozen=True)
class _EventLayout:
    """An event's inputs split as the log carries them, with their ABI type strings, worked out once."""

    name: str
    indexed: list[Any]
    indexed_types: list[str]
    unindexed: list[Any]
    unindexed_types: list[str]
    one_word_each: bool  # every unindexed value fills one 32-byte word: read without eth_abi

    @classmethod
    def of(cls, item: Any) -> _EventLayout:
        indexed = [i for i in item["inputs"] if i["indexed"]]
        unindexed = [i for i in item["inputs"] if not i["indexed"]]
        types = [collapse_if_tuple(i) for i in indexed], [collapse_if_tuple(i) for i in unindexed]
        return cls(item["name"], indexed, types[0], unindexed, types[1], all(map(_one_word, types[1])))

    def words(self, data: bytes) -> list[Any]:
        """The unindexed values of an event of one-word types (most of the escrow's: Released, Deposited,
        ...), several times faster than eth_abi's general decoder."""
        if len(data) != 32 * len(self.unindexed_types):
            raise ValueError(f"{self.name} carries {len(data)} bytes of data, not {32 * len(self.unindexed_types)}")
        return [_word(kind, data[32 * i : 32 * (i + 1)]) for i, kind in enumerate(self.unindexed_types)]


def _one_word(kind: str) -> bool:
    return kind.startswith("uint") or kind in ("address", "bytes32")


def _word(kind: str, word: bytes) -> Any:
    """A 32-byte ABI word of a `_one_word` type, as eth_abi decodes it."""
    if kind == "address":
        return "0x" + word[12:].hex()
    if kind == "bytes32":
        return word
    return int.from_bytes(word, "big")


class EscrowDecoder:
    """Decodes the escrow's logs into ChainEvents; logs of other contracts or events decode to None.

    It decodes with eth_abi from the ABI directly: web3's process_log runs every value through its
    formatters first, which made decoding a third of the indexer's time."""

    def __init__(self, escrow: Contract) -> None:
        self.address = escrow.address.lower()
        self._events = {
            event_abi_to_log_topic(item): _EventLayout.of(item) for item in escrow.abi if item["type"] == "event"
        }

    def decode(self, log: LogReceipt) -> ChainEvent | None:
        if log["address"].lower() != self.address or not log["topics"]:
            return None
        layout = self._events.get(bytes(log["topics"][0]))
        if layout is None or len(log["topics"]) != 1 + len(layout.indexed):
            return None
        args: dict[str, Any] = {}
        for spec, kind, topic in zip(layout.indexed, layout.indexed_types, log["topics"][1:], strict=True):
            word = bytes(topic)  # indexed values are static: one word each
            args[spec["name"]] = _python(spec, _word(kind, word) if _one_word(kind) else abi_decode([kind], word)[0])
        data = bytes(log["data"])
        values = layout.words(data) if layout.one_word_each else abi_decode(layout.unindexed_types, data)
        for spec, value in zip(layout.unindexed, values, strict=True):
            args[spec["name"]] = _python(spec, value)
        name = layout.name
        if name in ("PlanRecorded", "PlanAmended"):
            args["instalments"] = unpack_instalments(args.pop("packedInstalments"))
        if name == "PlanRecorded":
            args["params"] = plan_params_from_event(args["params"])
        return ChainEvent(name, args, int(log["blockNumber"]), int(log["logIndex"]))


def _python(spec: Mapping[str, Any], value: Any) -> Any:
    """An ABI value as web3 would give it: checksummed addresses, bytes, structs as dicts by field name."""
    kind = spec["type"]
    if kind.endswith("]"):
        element = dict(spec) | {"type": kind[: kind.rindex("[")]}
        return [_python(element, v) for v in value]
    if kind == "tuple":
        return {c["name"]: _python(c, v) for c, v in zip(spec["components"], value, strict=True)}
    if kind == "address":
        return to_checksum_address(value)
    if isinstance(value, bytes):
        return bytes(value)
    return value


def decode_escrow_logs(escrow: Contract, logs: Iterable[LogReceipt]) -> list[ChainEvent]:
    """The escrow's logs as ChainEvents in chain order; logs of other contracts or events are left out."""
    decoder = EscrowDecoder(escrow)
    events = []
    for log in sorted(logs, key=lambda entry: (entry["blockNumber"], entry["logIndex"])):
        event = decoder.decode(log)
        if event is not None:
            events.append(event)
    return events
