"""The EIP-712 messages the parties sign, and the Merkle tree over a plan's instalments.

This is the Python twin of ``contracts/libraries/PlanHashing.sol``: the type definitions below are the
only ones in Python, and a test proves that they, ``eth_account`` and the contract hash the same. The
payloads built here are what ``eth_signTypedData_v4`` takes, so a browser wallet shows the same thing.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from eth_abi.abi import encode
from eth_account import Account
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from daifa.chain.abi import plan_params
from daifa.domain.plans import AgreementSetParams, Instalment, PlanParams

DOMAIN_NAME = "Daifa"
DOMAIN_VERSION = "1"

Field = dict[str, str]

TYPES: dict[str, list[Field]] = {
    "Instalment": [
        {"name": "depositBy", "type": "uint40"},
        {"name": "releaseAt", "type": "uint40"},
        {"name": "amount", "type": "uint128"},
        {"name": "rule", "type": "uint8"},
        {"name": "materialsHash", "type": "bytes32"},
    ],
    "AgreementSet": [
        {"name": "payer", "type": "address"},
        {"name": "payee", "type": "address"},
        {"name": "payerPlatformAgreement", "type": "bytes32"},
        {"name": "payeePlatformAgreement", "type": "bytes32"},
        {"name": "payerPayeeAgreement", "type": "bytes32"},
        {"name": "tokens", "type": "address[]"},
        {"name": "limit", "type": "uint104"},
        {"name": "expiry", "type": "uint40"},
        {"name": "payerNonce", "type": "uint256"},
        {"name": "payeeNonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ],
    "Plan": [
        {"name": "agreementSetId", "type": "uint64"},
        {"name": "payer", "type": "address"},
        {"name": "payee", "type": "address"},
        {"name": "token", "type": "address"},
        {"name": "arbiter", "type": "address"},
        {"name": "feeRecipient", "type": "address"},
        {"name": "feeBps", "type": "uint16"},
        {"name": "feeCap", "type": "uint128"},
        {"name": "reviewWindow", "type": "uint32"},
        {"name": "expiry", "type": "uint40"},
        {"name": "instalments", "type": "Instalment[]"},
        {"name": "payerNonce", "type": "uint256"},
        {"name": "payeeNonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ],
    "Amendment": [
        {"name": "planId", "type": "uint64"},
        {"name": "currentInstalmentsRoot", "type": "bytes32"},
        {"name": "instalments", "type": "Instalment[]"},
        {"name": "payerNonce", "type": "uint256"},
        {"name": "payeeNonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ],
    "Cancellation": [
        {"name": "planId", "type": "uint64"},
        {"name": "indices", "type": "uint16[]"},
        {"name": "payerNonce", "type": "uint256"},
        {"name": "payeeNonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ],
    "DepositAuthorization": [
        {"name": "planId", "type": "uint64"},
        {"name": "indices", "type": "uint16[]"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ],
    "PayerApproval": [
        {"name": "planId", "type": "uint64"},
        {"name": "index", "type": "uint16"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ],
    "MaterialsSubmission": [
        {"name": "planId", "type": "uint64"},
        {"name": "index", "type": "uint16"},
        {"name": "deliveredHash", "type": "bytes32"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ],
    "Dispute": [
        {"name": "planId", "type": "uint64"},
        {"name": "index", "type": "uint16"},
        {"name": "reasonHash", "type": "bytes32"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ],
}

DOMAIN_TYPE: list[Field] = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]


# --------------------------------------------------------------------------------------------------
# A small, complete EIP-712 encoder over TYPES
# --------------------------------------------------------------------------------------------------


def _referenced_types(primary: str) -> list[str]:
    found: list[str] = []
    pending = [primary]
    while pending:
        name = pending.pop()
        if name in found:
            continue
        found.append(name)
        for field in TYPES[name]:
            base = field["type"].removesuffix("[]")
            if base in TYPES:
                pending.append(base)
    return [primary, *sorted(t for t in found if t != primary)]


def encode_type(primary: str) -> str:
    """The EIP-712 type string: the primary type, then referenced types in alphabetical order."""
    return "".join(
        f"{name}({','.join(f['type'] + ' ' + f['name'] for f in TYPES[name])})" for name in _referenced_types(primary)
    )


def type_hash(primary: str) -> bytes:
    return keccak(text=encode_type(primary))


def _encode_value(type_name: str, value: Any) -> bytes:
    if type_name.endswith("[]"):
        element = type_name[:-2]
        return keccak(b"".join(_encode_value(element, v) for v in value))
    if type_name in TYPES:
        return hash_struct(type_name, value)
    if type_name == "string":
        return keccak(text=value)
    if type_name == "bytes":
        return keccak(value)
    return encode([type_name], [value])


def hash_struct(primary: str, message: dict[str, Any]) -> bytes:
    """EIP-712 ``hashStruct``: keccak of the type hash and every field's encoding."""
    return keccak(type_hash(primary) + b"".join(_encode_value(f["type"], message[f["name"]]) for f in TYPES[primary]))


def domain(chain_id: int, verifying_contract: str) -> dict[str, Any]:
    return {
        "name": DOMAIN_NAME,
        "version": DOMAIN_VERSION,
        "chainId": chain_id,
        "verifyingContract": to_checksum_address(verifying_contract),
    }


def domain_separator(chain_id: int, verifying_contract: str) -> bytes:
    d = domain(chain_id, verifying_contract)
    type_string = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
    return keccak(
        keccak(text=type_string)
        + keccak(text=d["name"])
        + keccak(text=d["version"])
        + encode(["uint256", "address"], [d["chainId"], d["verifyingContract"]])
    )


def digest(chain_id: int, verifying_contract: str, struct_hash: bytes) -> bytes:
    """What a wallet signs: ``keccak(0x1901 ‖ domainSeparator ‖ structHash)``."""
    return keccak(b"\x19\x01" + domain_separator(chain_id, verifying_contract) + struct_hash)


def payload(primary: str, message: dict[str, Any], chain_id: int, verifying_contract: str) -> dict[str, Any]:
    """The full ``eth_signTypedData_v4`` payload for `message`."""
    types: dict[str, list[Field]] = {"EIP712Domain": DOMAIN_TYPE}
    for name in _referenced_types(primary):
        types[name] = TYPES[name]
    return {
        "types": types,
        "primaryType": primary,
        "domain": domain(chain_id, verifying_contract),
        "message": message,
    }


PERMIT_TYPE: list[Field] = [
    {"name": "owner", "type": "address"},
    {"name": "spender", "type": "address"},
    {"name": "value", "type": "uint256"},
    {"name": "nonce", "type": "uint256"},
    {"name": "deadline", "type": "uint256"},
]


def permit_payload(
    token_name: str, token: str, chain_id: int, owner: str, spender: str, value: int, nonce: int, deadline: int
) -> dict[str, Any]:
    """An EIP-2612 permit of `token` (whose EIP-712 domain is its name, version "1"), as a wallet signs it."""
    return {
        "types": {"EIP712Domain": DOMAIN_TYPE, "Permit": PERMIT_TYPE},
        "primaryType": "Permit",
        "domain": {
            "name": token_name,
            "version": "1",
            "chainId": chain_id,
            "verifyingContract": to_checksum_address(token),
        },
        "message": {
            "owner": to_checksum_address(owner),
            "spender": to_checksum_address(spender),
            "value": value,
            "nonce": nonce,
            "deadline": deadline,
        },
    }


def as_json(typed: dict[str, Any]) -> dict[str, Any]:
    """An eth_signTypedData_v4 payload as JSON must carry it to any wallet: bytes as 0x-hex, and every
    integer, the domain's chainId included, as a decimal string. A wallet RPC refuses (and a JavaScript
    wallet silently rounds) a JSON number past 2**53 or 2**128; every EIP-712 implementation reads a
    decimal string as the same integer, so the digest is unchanged."""
    types: dict[str, list[Field]] = typed["types"]

    def encoded(type_name: str, value: Any) -> Any:
        if type_name.endswith("[]"):
            return [encoded(type_name[:-2], item) for item in value]
        if type_name in types:
            return {f["name"]: encoded(f["type"], value[f["name"]]) for f in types[type_name] if f["name"] in value}
        if isinstance(value, bytes):
            return "0x" + value.hex()
        if type_name.startswith(("uint", "int")):
            return str(int(value))
        return value

    return {
        "types": types,
        "primaryType": typed["primaryType"],
        "domain": encoded("EIP712Domain", typed["domain"]),
        "message": encoded(typed["primaryType"], typed["message"]),
    }


def payload_digest(typed: dict[str, Any]) -> bytes:
    """The EIP-712 digest of any eth_signTypedData_v4 payload (its own types and domain, values as JSON
    carries them or as Python has them): what a wallet signs, and what a contract wallet's
    isValidSignature is asked about. The platform's own encoder: eth_account's took a millisecond for a
    plan of 12 instalments, and every signature posted and every signature request shown needs one."""
    domain: dict[str, Any] = typed["domain"]
    # The domain's type is the fields it has, in EIP-712's order (as wallets and eth_account read it),
    # whatever the payload's EIP712Domain entry lists: a Safe's domain has only chainId and the contract.
    present = [field for field in _DOMAIN_FIELDS if field["name"] in domain]
    encoder = _JsonEncoder({**typed["types"], "EIP712Domain": present})
    domain_hash = encoder.struct_hash("EIP712Domain", domain)
    return keccak(b"\x19\x01" + domain_hash + encoder.struct_hash(typed["primaryType"], typed["message"]))


def recover_signer(typed: dict[str, Any], signature: bytes) -> str:
    """The address that signed the eth_signTypedData_v4 payload `typed` (a 65-byte r, s, v signature)."""
    return str(Account._recover_hash(payload_digest(typed), signature=signature))


_DOMAIN_FIELDS: list[Field] = [*DOMAIN_TYPE, {"name": "salt", "type": "bytes32"}]


class _JsonEncoder:
    """EIP-712 encodeData over a payload's own types, each type's hash computed once per payload."""

    def __init__(self, types: dict[str, list[Field]]) -> None:
        self.types = types
        self.type_hashes: dict[str, bytes] = {}

    def struct_hash(self, primary: str, value: dict[str, Any]) -> bytes:
        if primary not in self.type_hashes:
            self.type_hashes[primary] = keccak(text=self._type_string(primary))
        fields = self.types[primary]
        return keccak(self.type_hashes[primary] + b"".join(self._word(f["type"], value[f["name"]]) for f in fields))

    def _type_string(self, primary: str) -> str:
        found: list[str] = []
        pending = [primary]
        while pending:
            name = pending.pop()
            if name not in found:
                found.append(name)
                pending += [base for f in self.types[name] if (base := f["type"].split("[", 1)[0]) in self.types]
        ordered = [primary, *sorted(t for t in found if t != primary)]
        return "".join(f"{n}({','.join(f['type'] + ' ' + f['name'] for f in self.types[n])})" for n in ordered)

    def _word(self, type_name: str, value: Any) -> bytes:
        """One field's 32 bytes."""
        if type_name.endswith("]"):
            element = type_name[: type_name.rindex("[")]
            return keccak(b"".join(self._word(element, item) for item in value))
        if type_name in self.types:
            return self.struct_hash(type_name, value)
        if type_name == "string":
            return keccak(text=value)
        if type_name == "bytes":
            return keccak(_bytes(value))
        if type_name.startswith("bytes"):
            return _bytes(value).ljust(32, b"\0")
        if type_name == "address":
            return bytes.fromhex(str(value).removeprefix("0x")).rjust(32, b"\0")
        if type_name == "bool":
            return int(value.lower() == "true" if isinstance(value, str) else bool(value)).to_bytes(32, "big")
        if isinstance(value, str):
            number = int(value, 16) if value.startswith(("0x", "0X")) else int(value, 10)
        else:
            number = int(value)
        return number.to_bytes(32, "big", signed=type_name.startswith("int"))


def _bytes(value: Any) -> bytes:
    return bytes(value) if isinstance(value, bytes | bytearray) else bytes.fromhex(str(value).removeprefix("0x"))


# --------------------------------------------------------------------------------------------------
# Messages
# --------------------------------------------------------------------------------------------------


def instalment_message(instalment: Instalment) -> dict[str, Any]:
    return {
        "depositBy": instalment.deposit_by,
        "releaseAt": instalment.release_at,
        "amount": instalment.amount,
        "rule": int(instalment.rule),
        "materialsHash": instalment.materials_hash,
    }


def plan_message(
    params: PlanParams, instalments: Sequence[Instalment], payer_nonce: int, payee_nonce: int, deadline: int
) -> dict[str, Any]:
    return {
        "agreementSetId": params.agreement_set_id,
        "payer": to_checksum_address(params.payer),
        "payee": to_checksum_address(params.payee),
        "token": to_checksum_address(params.token),
        "arbiter": to_checksum_address(params.arbiter),
        "feeRecipient": to_checksum_address(params.fee_recipient),
        "feeBps": params.fee_bps,
        "feeCap": params.fee_cap,
        "reviewWindow": params.review_window,
        "expiry": params.expiry,
        "instalments": [instalment_message(i) for i in instalments],
        "payerNonce": payer_nonce,
        "payeeNonce": payee_nonce,
        "deadline": deadline,
    }


def agreement_set_message(
    params: AgreementSetParams, payer_nonce: int, payee_nonce: int, deadline: int
) -> dict[str, Any]:
    return {
        "payer": to_checksum_address(params.payer),
        "payee": to_checksum_address(params.payee),
        "payerPlatformAgreement": params.payer_platform_agreement,
        "payeePlatformAgreement": params.payee_platform_agreement,
        "payerPayeeAgreement": params.payer_payee_agreement,
        "tokens": [to_checksum_address(t) for t in params.tokens],
        "limit": params.limit,
        "expiry": params.expiry,
        "payerNonce": payer_nonce,
        "payeeNonce": payee_nonce,
        "deadline": deadline,
    }


def amendment_message(
    plan_id: int,
    current_root: bytes,
    instalments: Sequence[Instalment],
    payer_nonce: int,
    payee_nonce: int,
    deadline: int,
) -> dict[str, Any]:
    return {
        "planId": plan_id,
        "currentInstalmentsRoot": current_root,
        "instalments": [instalment_message(i) for i in instalments],
        "payerNonce": payer_nonce,
        "payeeNonce": payee_nonce,
        "deadline": deadline,
    }


def cancellation_message(
    plan_id: int, indices: Sequence[int], payer_nonce: int, payee_nonce: int, deadline: int
) -> dict[str, Any]:
    return {
        "planId": plan_id,
        "indices": list(indices),
        "payerNonce": payer_nonce,
        "payeeNonce": payee_nonce,
        "deadline": deadline,
    }


def deposit_authorization_message(plan_id: int, indices: Sequence[int], nonce: int, deadline: int) -> dict[str, Any]:
    """The payer's consent to fund exactly these instalments of the plan from its allowance (depositWithPermit)."""
    return {"planId": plan_id, "indices": list(indices), "nonce": nonce, "deadline": deadline}


def payer_approval_message(plan_id: int, index: int, nonce: int, deadline: int) -> dict[str, Any]:
    return {"planId": plan_id, "index": index, "nonce": nonce, "deadline": deadline}


def materials_submission_message(
    plan_id: int, index: int, delivered_hash: bytes, nonce: int, deadline: int
) -> dict[str, Any]:
    return {"planId": plan_id, "index": index, "deliveredHash": delivered_hash, "nonce": nonce, "deadline": deadline}


def dispute_message(plan_id: int, index: int, reason_hash: bytes, nonce: int, deadline: int) -> dict[str, Any]:
    return {"planId": plan_id, "index": index, "reasonHash": reason_hash, "nonce": nonce, "deadline": deadline}


def plan_consent_hash(
    params: PlanParams, instalments: Sequence[Instalment], payer_nonce: int, payee_nonce: int, deadline: int
) -> bytes:
    """The EIP-712 struct hash of the plan both parties sign (PlanRecorded.consentHash)."""
    return hash_struct("Plan", plan_message(params, instalments, payer_nonce, payee_nonce, deadline))


def agreement_set_consent_hash(params: AgreementSetParams, payer_nonce: int, payee_nonce: int, deadline: int) -> bytes:
    """The EIP-712 struct hash of the agreement set both parties sign (AgreementSetRecorded.consentHash)."""
    return hash_struct("AgreementSet", agreement_set_message(params, payer_nonce, payee_nonce, deadline))


# --------------------------------------------------------------------------------------------------
# The Merkle tree over a plan's instalments (PlanHashing.merkleRoot)
# --------------------------------------------------------------------------------------------------


@lru_cache(maxsize=65_536)
def instalment_hash(instalment: Instalment) -> bytes:
    """Cached: an Instalment is immutable, and the scheduler hashes the same ones for every proof it builds."""
    return hash_struct("Instalment", instalment_message(instalment))


def leaf(index: int, instalment: Instalment) -> bytes:
    """The leaf binds the instalment to its index so a proof cannot move it: keccak(abi.encode(index,
    hash)), both words written out here (a uint256 is 32 big-endian bytes)."""
    return keccak(index.to_bytes(32, "big") + instalment_hash(instalment))


def _pair(a: bytes, b: bytes) -> bytes:
    return keccak(min(a, b) + max(a, b))


def _levels(instalments: Sequence[Instalment]) -> list[list[bytes]]:
    return _tree(tuple(instalments))


@lru_cache(maxsize=4_096)
def _tree(instalments: tuple[Instalment, ...]) -> list[list[bytes]]:
    """Cached: the scheduler proves a plan's instalments month after month from the same tree. Callers
    only read it. Bounded: a plan of 12 instalments' tree is under a kilobyte."""
    if not instalments:
        raise ValueError("a plan has at least one instalment")
    levels = [[leaf(i, inst) for i, inst in enumerate(instalments)]]
    while len(levels[-1]) > 1:
        nodes = levels[-1]
        levels.append(
            [_pair(nodes[i], nodes[i + 1]) if i + 1 < len(nodes) else nodes[i] for i in range(0, len(nodes), 2)]
        )
    return levels


def instalments_root(instalments: Sequence[Instalment]) -> bytes:
    return _levels(instalments)[-1][0]


def plan_commitment(params: PlanParams, root: bytes) -> bytes:
    """The 24 bytes the registry stores for a plan: the start of ``keccak(abi.encode(params, root))``."""
    types = ["uint64", "address", "address", "address", "address", "address", "uint16", "uint128", "uint32", "uint40"]
    return keccak(encode([*types, "bytes32"], [*plan_params(params), root]))[:24]


def instalment_proof(instalments: Sequence[Instalment], index: int) -> list[bytes]:
    """The sibling path from instalment `index` to the root; a carried-up odd node has no sibling."""
    return instalment_proofs(instalments, [index])[0]


def instalment_proofs(instalments: Sequence[Instalment], indices: Sequence[int]) -> list[list[bytes]]:
    """The proofs of several instalments of one plan, building its tree once."""
    for index in indices:
        if not 0 <= index < len(instalments):
            raise IndexError(f"instalment {index} is not in a plan of {len(instalments)}")
    levels = _levels(instalments)[:-1]
    proofs = []
    for index in indices:
        proof: list[bytes] = []
        position = index
        for nodes in levels:
            sibling = position ^ 1
            if sibling < len(nodes):
                proof.append(nodes[sibling])
            position //= 2
        proofs.append(proof)
    return proofs
