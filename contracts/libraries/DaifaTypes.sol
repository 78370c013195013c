// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title DaifaTypes
/// @notice Every struct and the constants of the plan registry, the escrow and their off-chain twins.
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

    /// @dev 16 statuses in a plan's head word and 63 in each of four more fit (see {InstalmentStatus});
    /// 252 instalments is 21 years of monthly pay.
    uint256 internal constant MAX_INSTALMENTS = 252;

    uint16 internal constant MAX_FEE_BPS = 10_000;

    /*//////////////////////////////////////////////////////////////
                         STRUCTS: WHAT PARTIES SIGN
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

    /// @notice One plan of {IPlanRegistry.recordPlans} and {IEscrow.recordPlansAndDeposit}: what
    /// {IPlanRegistry.recordPlan} takes.
    struct NewPlan {
        PlanParams params;
        Instalment[] instalments;
        JointAuthorization auth;
    }

    /// @notice One item of {IEscrow.releaseBatch}: an instalment of a recorded plan.
    struct ReleaseItem {
        uint64 planId;
        PlanParams params;
        InstalmentRef ref;
    }

    /*//////////////////////////////////////////////////////////////
                      STRUCTS: WHAT THE REGISTRY STORES
    //////////////////////////////////////////////////////////////*/

    /// @dev An approved party.
    struct Party {
        uint8 roles; // slot 0: ROLE_PAYER and/or ROLE_PAYEE
        bool suspended; // slot 0
        bytes32 documentsHash; // slot 1: read only by the view
    }

    /// @dev The hot state of an agreement set, keyed by (id, payer, payee): one read checks that the set
    /// exists between the plan's parties, is open and has room.
    struct Budget {
        uint40 expiry;
        uint104 limit;
        uint104 committed;
    }

    /// @dev Who an agreement set is between, for the view (calls find the budget by id and parties).
    struct SetParties {
        address payer;
        address payee;
    }

    /// @dev The pause flag and the id counters share a slot: recording and depositing read the flag
    /// anyway, so handing out the next id costs only the warm store.
    struct Counters {
        bool paused;
        uint64 agreementSetCount;
        uint64 planCount;
    }

    /// @dev What the payee delivered for a MATERIALS instalment, and when the operator attested it.
    struct Materials {
        bytes32 deliveredHash;
        uint40 attestedAt;
    }

    /// @dev A recorded plan: its head word (terms' commitment and the first statuses), the further status
    /// words (see {InstalmentStatus}) and the materials of its MATERIALS instalments.
    struct PlanState {
        uint256 head;
        mapping(uint256 word => uint256) statusWords;
        mapping(uint256 index => Materials) materials;
    }
}
