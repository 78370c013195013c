// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title DaifaTypes
/// @notice The structs and constants shared by the plan registry, the escrow and their off-chain twins.
/// @dev Amounts are `uint128` in the token's smallest unit and times `uint40` unix seconds so that
/// storage packs; the EIP-712 type strings in {PlanHashing} name exactly these fields.
library DaifaTypes {
    /*//////////////////////////////////////////////////////////////
                                 ROLES
    //////////////////////////////////////////////////////////////*/

    /// @dev Party roles are bit flags: one account may be approved as payer, payee or both.
    uint8 internal constant ROLE_PAYER = 1;
    uint8 internal constant ROLE_PAYEE = 2;

    /*//////////////////////////////////////////////////////////////
                             RELEASE RULES
    //////////////////////////////////////////////////////////////*/

    /// @dev Releasable by anyone once `releaseAt` has passed.
    uint8 internal constant RULE_TIME = 0;
    /// @dev Releasable once the payer approved it (its transaction or its EIP-712 signature).
    uint8 internal constant RULE_PAYER_APPROVAL = 1;
    /// @dev Releasable once the operator attested the payee's materials and the review window passed.
    uint8 internal constant RULE_MATERIALS = 2;

    /*//////////////////////////////////////////////////////////////
                          INSTALMENT STATUS BITS
    //////////////////////////////////////////////////////////////*/

    // An instalment's status is four bits that are only ever set, never cleared, so statuses only move
    // forward. CLOSED is final: the instalment was released, refunded, cancelled or its dispute resolved.
    uint8 internal constant FUNDED = 1;
    /// @dev The payer approved (PAYER_APPROVAL) or the operator attested the materials (MATERIALS).
    uint8 internal constant CONDITION_MET = 2;
    uint8 internal constant DISPUTED = 4;
    uint8 internal constant CLOSED = 8;

    /// @dev A plan's first storage word holds a 192-bit commitment to its terms in the high bits and the
    /// statuses of instalments 0-15 in the low 64 bits, so recording a plan of up to 16 instalments writes
    /// one slot, and acting on one of them reads one. Later instalments take 63 statuses per further word,
    /// whose bit 255 marks it as written at recording so that every status change is a cheap store.
    uint256 internal constant HEAD_STATUSES = 16;
    uint256 internal constant HEAD_STATUS_MASK = type(uint64).max;
    uint256 internal constant STATUSES_PER_WORD = 63;
    uint256 internal constant WORD_MARKER = 1 << 255;
    /// @dev 16 + 63 * 4 statuses fit; 252 instalments is 21 years of monthly pay.
    uint256 internal constant MAX_INSTALMENTS = 252;

    uint16 internal constant MAX_FEE_BPS = 10_000;

    /*//////////////////////////////////////////////////////////////
                                STRUCTS
    //////////////////////////////////////////////////////////////*/

    /// @notice One instalment of a plan, exactly as both parties sign it.
    struct Instalment {
        uint40 depositBy; // when the payer must have funded it
        uint40 releaseAt; // when it falls due
        uint128 amount; // token units, fee included
        uint8 rule; // RULE_TIME, RULE_PAYER_APPROVAL or RULE_MATERIALS
        bytes32 materialsHash; // hash of the list of materials required for release
    }

    /// @notice A plan's terms other than its instalments.
    struct PlanParams {
        uint64 agreementSetId;
        address payer;
        address payee;
        address token;
        address arbiter; // resolves disputes; the operator unless the parties named another
        address feeRecipient;
        uint16 feeBps; // platform fee on each release, in basis points...
        uint128 feeCap; // ...and never more than this per instalment
        uint32 reviewWindow; // seconds the payer has to dispute attested materials
        uint40 expiry; // after this, instalments whose condition never became true refund
    }

    /// @notice An instalment of a recorded plan with the proof that it belongs to the plan.
    struct InstalmentRef {
        uint16 index;
        Instalment instalment;
        bytes32[] proof;
    }

    /// @notice The product opening: the parties, the three agreements' hashes and the credit terms.
    struct AgreementSetParams {
        address payer;
        address payee;
        bytes32 payerPlatformAgreement;
        bytes32 payeePlatformAgreement;
        bytes32 payerPayeeAgreement;
        address[] tokens;
        uint104 limit; // the most all plans under this set may total
        uint40 expiry;
    }

    /// @notice An agreement set as the registry reports it (the agreements' hashes are in its event).
    struct AgreementSet {
        address payer;
        address payee;
        uint40 expiry;
        uint104 limit;
        uint104 committed; // total of the plans recorded under it, less cancellations
    }

    /// @notice Consent of both parties to one message. A party that sends the transaction itself may
    /// leave its signature empty: its transaction is its consent.
    struct JointAuthorization {
        uint256 payerNonce;
        uint256 payeeNonce;
        uint256 deadline;
        bytes payerSignature;
        bytes payeeSignature;
    }

    /// @notice One party's EIP-712 consent, relayed by anyone. Empty signature: the sender is the party.
    struct PartySignature {
        uint256 nonce;
        uint256 deadline;
        bytes signature;
    }

    /// @notice An EIP-2612 permit signed by the payer for a gasless deposit.
    struct Permit {
        uint256 value;
        uint256 deadline;
        uint8 v;
        bytes32 r;
        bytes32 s;
    }
}
