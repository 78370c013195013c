"""One EIP-712 definition: the Python twin, eth_account and the contract hash the same; Merkle proofs."""

from __future__ import annotations

from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak

from daifa.chain import abi
from daifa.chain import typed_data as td
from daifa.domain.plans import ReleaseRule
from tests.world import USD, World


def test_domain_separator_matches_contract(world: World) -> None:
    assert bytes(world.escrow.functions.domainSeparator().call()) == td.domain_separator(
        world.chain.chain_id, world.escrow.address
    )


def test_plan_hash_matches_contract_and_eth_account(world: World) -> None:
    params = world.plan_params(fee_bps=25, fee_cap=3 * USD)
    instalments = [
        *world.instalments(2),
        *world.instalments(1, rule=ReleaseRule.PAYER_APPROVAL),
        *world.instalments(2, rule=ReleaseRule.MATERIALS),
    ]
    nonces, deadline = (11, 2**200), 1_900_000_000
    consent_hash, digest, root = world.escrow.functions.hashPlan(
        abi.plan_params(params), [abi.instalment(i) for i in instalments], *nonces, deadline
    ).call()
    message = td.plan_message(params, instalments, *nonces, deadline)
    assert bytes(consent_hash) == td.plan_consent_hash(params, instalments, *nonces, deadline)
    assert bytes(root) == td.instalments_root(instalments)
    assert bytes(digest) == td.digest(world.chain.chain_id, world.escrow.address, bytes(consent_hash))
    signable = encode_typed_data(full_message=td.payload("Plan", message, world.chain.chain_id, world.escrow.address))
    assert keccak(b"\x19" + signable.version + signable.header + signable.body) == bytes(digest)


def test_agreement_set_hash_matches_contract_and_eth_account(world: World) -> None:
    params = world.agreement_set_params(tokens=(world.token.address, world.payer.address))
    consent_hash, digest = world.escrow.functions.hashAgreementSet(abi.agreement_set(params), 1, 2, 3).call()
    assert bytes(consent_hash) == td.agreement_set_consent_hash(params, 1, 2, 3)
    message = td.agreement_set_message(params, 1, 2, 3)
    signable = encode_typed_data(
        full_message=td.payload("AgreementSet", message, world.chain.chain_id, world.escrow.address)
    )
    assert keccak(b"\x19" + signable.version + signable.header + signable.body) == bytes(digest)


def test_type_strings_list_referenced_types_after_the_primary() -> None:
    assert td.encode_type("Plan").endswith(
        "Instalment(uint40 depositBy,uint40 releaseAt,uint128 amount,uint8 rule,bytes32 materialsHash)"
    )
    assert td.encode_type("PayerApproval") == "PayerApproval(uint64 planId,uint16 index,uint256 nonce,uint256 deadline)"


def _root_from_proof(leaf: bytes, proof: list[bytes]) -> bytes:
    node = leaf
    for sibling in proof:
        node = keccak(min(node, sibling) + max(node, sibling))
    return node


def test_every_proof_leads_to_the_root_for_plans_of_1_to_40_instalments(world: World) -> None:
    for count in range(1, 41):
        instalments = world.instalments(count, amount=count)
        root = td.instalments_root(instalments)
        for index in range(count):
            proof = td.instalment_proof(instalments, index)
            assert _root_from_proof(td.leaf(index, instalments[index]), proof) == root


def test_contract_accepts_every_proof_of_odd_and_even_sized_plans(world: World) -> None:
    for count in (1, 2, 3, 5, 17):
        plan = world.record_plan(world.instalments(count, amount=USD))
        world.deposit(plan, list(range(count)))
        assert [world.status(plan, i) for i in range(count)] == [1] * count
