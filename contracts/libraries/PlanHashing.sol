// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {Hashes} from "@openzeppelin/contracts/utils/cryptography/Hashes.sol";

import {DaifaTypes} from "./DaifaTypes.sol";

/// @title PlanHashing
/// @notice The one EIP-712 definition of everything the parties sign, and the Merkle tree over a plan's
/// instalments. `daifa.chain.typed_data` is its Python twin; a test proves both hash the same.
library PlanHashing {
    /*//////////////////////////////////////////////////////////////
                               TYPE HASHES
    //////////////////////////////////////////////////////////////*/

    bytes internal constant INSTALMENT_TYPE =
        "Instalment(uint40 depositBy,uint40 releaseAt,uint128 amount,uint8 rule,bytes32 materialsHash)";

    bytes32 internal constant INSTALMENT_TYPEHASH = keccak256(INSTALMENT_TYPE);

    uint256 internal constant PACKED_INSTALMENT_SIZE = 59;

    bytes32 internal constant AGREEMENT_SET_TYPEHASH = keccak256(
        "AgreementSet(address payer,address payee,bytes32 payerPlatformAgreement,bytes32 payeePlatformAgreement,"
        "bytes32 payerPayeeAgreement,address[] tokens,uint104 limit,uint40 expiry,uint256 payerNonce,"
        "uint256 payeeNonce,uint256 deadline)"
    );

    bytes32 internal constant PLAN_TYPEHASH = keccak256(
        abi.encodePacked(
            "Plan(uint64 agreementSetId,address payer,address payee,address token,address arbiter,"
            "address feeRecipient,uint16 feeBps,uint128 feeCap,uint32 reviewWindow,uint40 expiry,"
            "Instalment[] instalments,uint256 payerNonce,uint256 payeeNonce,uint256 deadline)",
            INSTALMENT_TYPE
        )
    );

    bytes32 internal constant AMENDMENT_TYPEHASH = keccak256(
        abi.encodePacked(
            "Amendment(uint64 planId,bytes32 currentInstalmentsRoot,Instalment[] instalments,uint256 payerNonce,"
            "uint256 payeeNonce,uint256 deadline)",
            INSTALMENT_TYPE
        )
    );

    bytes32 internal constant CANCELLATION_TYPEHASH = keccak256(
        "Cancellation(uint64 planId,uint16[] indices,uint256 payerNonce,uint256 payeeNonce,uint256 deadline)"
    );

    bytes32 internal constant DEPOSIT_AUTHORIZATION_TYPEHASH =
        keccak256("DepositAuthorization(uint64 planId,uint16[] indices,uint256 nonce,uint256 deadline)");

    bytes32 internal constant PAYER_APPROVAL_TYPEHASH =
        keccak256("PayerApproval(uint64 planId,uint16 index,uint256 nonce,uint256 deadline)");

    bytes32 internal constant MATERIALS_SUBMISSION_TYPEHASH = keccak256(
        "MaterialsSubmission(uint64 planId,uint16 index,bytes32 deliveredHash,uint256 nonce,uint256 deadline)"
    );

    bytes32 internal constant DISPUTE_TYPEHASH =
        keccak256("Dispute(uint64 planId,uint16 index,bytes32 reasonHash,uint256 nonce,uint256 deadline)");

    /*//////////////////////////////////////////////////////////////
                               INSTALMENTS
    //////////////////////////////////////////////////////////////*/

    /// @dev EIP-712 struct hash of an instalment, hashed straight from calldata. A field with dirty high bits
    /// hashes differently from its clean value, so such input fails the signature or proof check.
    function hashInstalment(DaifaTypes.Instalment calldata instalment) internal pure returns (bytes32 result) {
        bytes32 typeHash = INSTALMENT_TYPEHASH;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, typeHash)
            calldatacopy(add(ptr, 0x20), instalment, 0xa0)
            result := keccak256(ptr, 0xc0)
        }
    }

    /// @notice Hashes every instalment once and returns both commitments built from those hashes: the
    /// EIP-712 array hash the parties sign and the Merkle root the registry stores.
    function hashInstalments(DaifaTypes.Instalment[] calldata instalments)
        internal
        pure
        returns (bytes32 arrayHash, bytes32 root)
    {
        uint256 count = instalments.length;
        bytes32[] memory structHashes = new bytes32[](count);
        for (uint256 i; i < count; ++i) {
            structHashes[i] = hashInstalment(instalments[i]);
        }
        arrayHash = keccak256(abi.encodePacked(structHashes));
        for (uint256 i; i < count; ++i) {
            structHashes[i] = leaf(i, structHashes[i]);
        }
        root = merkleRoot(structHashes);
    }

    /// @notice The Merkle root of `instalments` alone.
    function instalmentsRoot(DaifaTypes.Instalment[] calldata instalments) internal pure returns (bytes32 root) {
        (, root) = hashInstalments(instalments);
    }

    /// @notice The instalments in 59 bytes each, for events: depositBy (5 bytes), releaseAt (5), amount (16),
    /// rule (1), materialsHash (32), big-endian, in index order. A third of their ABI encoding, so the whole
    /// plan fits in its event at a third of the log gas. Call after the fields were read through Solidity
    /// (which rejects dirty high bits), as {PlanRegistry.recordPlan} does.
    function packInstalments(DaifaTypes.Instalment[] calldata instalments) internal pure returns (bytes memory packed) {
        uint256 count = instalments.length;
        packed = new bytes(count * PACKED_INSTALMENT_SIZE);
        assembly ("memory-safe") {
            let out := add(packed, 0x20)
            for { let src := instalments.offset } lt(src, add(instalments.offset, mul(count, 0xa0))) {
                src := add(src, 0xa0)
            } {
                // Each mstore writes a whole word; the next one overwrites the bytes past its field.
                mstore(out, shl(216, calldataload(src)))
                mstore(add(out, 5), shl(216, calldataload(add(src, 0x20))))
                mstore(add(out, 10), shl(128, calldataload(add(src, 0x40))))
                mstore(add(out, 26), shl(248, calldataload(add(src, 0x60))))
                mstore(add(out, 27), calldataload(add(src, 0x80)))
                out := add(out, 59)
            }
        }
    }

    /// @notice The Merkle leaf of instalment `index`: the index is bound so a proof cannot move it.
    function leaf(uint256 index, bytes32 instalmentHash) internal pure returns (bytes32) {
        return Hashes.efficientKeccak256(bytes32(index), instalmentHash);
    }

    /// @notice Root of the tree that pairs neighbours level by level with a commutative keccak and carries
    /// an odd last node up unchanged. Overwrites `nodes`.
    function merkleRoot(bytes32[] memory nodes) internal pure returns (bytes32) {
        uint256 width = nodes.length;
        while (width > 1) {
            uint256 next = 0;
            for (uint256 i = 0; i < width; i += 2) {
                nodes[next++] = i + 1 < width ? Hashes.commutativeKeccak256(nodes[i], nodes[i + 1]) : nodes[i];
            }
            width = next;
        }
        return nodes[0];
    }

    /// @notice What the registry commits to for a plan: `keccak256(abi.encode(params, instalmentsRoot))`.
    function hashTerms(DaifaTypes.PlanParams calldata params, bytes32 root)
        internal
        pure
        returns (bytes32 result)
    {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            calldatacopy(ptr, params, 0x140) // PlanParams is static: 10 words in place
            mstore(add(ptr, 0x140), root)
            result := keccak256(ptr, 0x160)
        }
    }

    /*//////////////////////////////////////////////////////////////
                           SIGNED STRUCT HASHES
    //////////////////////////////////////////////////////////////*/

    function hashAgreementSet(
        DaifaTypes.AgreementSetParams calldata p,
        uint256 payerNonce,
        uint256 payeeNonce,
        uint256 deadline
    ) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(
                AGREEMENT_SET_TYPEHASH,
                p.payer,
                p.payee,
                p.payerPlatformAgreement,
                p.payeePlatformAgreement,
                p.payerPayeeAgreement,
                keccak256(abi.encodePacked(p.tokens)),
                p.limit,
                p.expiry,
                payerNonce,
                payeeNonce,
                deadline
            )
        );
    }

    /// @dev The struct hash both parties sign (PlanRecorded.consentHash). Encoded in two steps to keep the
    /// stack shallow.
    function hashPlan(
        DaifaTypes.PlanParams calldata p,
        bytes32 instalmentsArrayHash,
        uint256 payerNonce,
        uint256 payeeNonce,
        uint256 deadline
    ) internal pure returns (bytes32) {
        bytes memory head = abi.encode(
            PLAN_TYPEHASH, p.agreementSetId, p.payer, p.payee, p.token, p.arbiter, p.feeRecipient, p.feeBps
        );
        return keccak256(
            bytes.concat(
                head,
                abi.encode(
                    p.feeCap, p.reviewWindow, p.expiry, instalmentsArrayHash, payerNonce, payeeNonce, deadline
                )
            )
        );
    }

    function hashAmendment(
        uint64 planId,
        bytes32 currentInstalmentsRoot,
        bytes32 instalmentsArrayHash,
        uint256 payerNonce,
        uint256 payeeNonce,
        uint256 deadline
    ) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(
                AMENDMENT_TYPEHASH,
                planId,
                currentInstalmentsRoot,
                instalmentsArrayHash,
                payerNonce,
                payeeNonce,
                deadline
            )
        );
    }

    /// @notice The EIP-712 encoding of the `uint16[] indices` of `refs`: the hash of their 32-byte words.
    function hashIndices(DaifaTypes.InstalmentRef[] calldata refs) internal pure returns (bytes32) {
        uint256[] memory padded = new uint256[](refs.length);
        for (uint256 i = 0; i < refs.length; ++i) {
            padded[i] = refs[i].index;
        }
        return keccak256(abi.encodePacked(padded));
    }

    function hashCancellation(
        uint64 planId,
        bytes32 indicesHash,
        uint256 payerNonce,
        uint256 payeeNonce,
        uint256 deadline
    ) internal pure returns (bytes32) {
        return keccak256(abi.encode(CANCELLATION_TYPEHASH, planId, indicesHash, payerNonce, payeeNonce, deadline));
    }

    function hashDepositAuthorization(uint64 planId, bytes32 indicesHash, uint256 nonce, uint256 deadline)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(DEPOSIT_AUTHORIZATION_TYPEHASH, planId, indicesHash, nonce, deadline));
    }

    function hashPayerApproval(uint64 planId, uint16 index, uint256 nonce, uint256 deadline)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(PAYER_APPROVAL_TYPEHASH, planId, index, nonce, deadline));
    }

    function hashMaterialsSubmission(
        uint64 planId,
        uint16 index,
        bytes32 deliveredHash,
        uint256 nonce,
        uint256 deadline
    ) internal pure returns (bytes32) {
        return keccak256(abi.encode(MATERIALS_SUBMISSION_TYPEHASH, planId, index, deliveredHash, nonce, deadline));
    }

    function hashDispute(uint64 planId, uint16 index, bytes32 reasonHash, uint256 nonce, uint256 deadline)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(DISPUTE_TYPEHASH, planId, index, reasonHash, nonce, deadline));
    }
}
