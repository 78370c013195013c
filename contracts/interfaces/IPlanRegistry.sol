// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {DaifaTypes} from "../libraries/DaifaTypes.sol";
import {IConsent} from "./IConsent.sol";

/// @title IPlanRegistry
/// @notice Parties the operator approved, agreement sets (product openings) and disbursement plans that
/// payer and payee both signed, with the per-instalment actions of the parties and the operator.
/// @dev Every party action can be sent by the party itself or relayed by anyone with the party's EIP-712
/// signature (see {DaifaTypes.PartySignature}); the parties need no gas.
interface IPlanRegistry is IConsent {
    /*//////////////////////////////////////////////////////////////
                                 EVENTS
    //////////////////////////////////////////////////////////////*/

    /// @notice The operator approved `account` for `roles` after reviewing the documents hashed in `documentsHash`.
    event PartyApproved(address indexed account, uint8 roles, bytes32 documentsHash);
    /// @notice The operator suspended `account`: it can no longer be named in a new agreement set or plan.
    event PartySuspended(address indexed account);
    /// @notice The operator lifted the suspension of `account`.
    event PartyReinstated(address indexed account);
    /// @notice The operator stopped new agreement sets, plans, amendments and deposits.
    event Paused(address account);
    /// @notice The operator lifted the pause.
    event Unpaused(address account);

    /// @notice Both parties signed the product opening `agreementSetId`; `params` is all of it and
    /// `consentHash` the EIP-712 struct hash they signed.
    event AgreementSetRecorded(
        uint64 indexed agreementSetId,
        address indexed payer,
        address indexed payee,
        bytes32 consentHash,
        DaifaTypes.AgreementSetParams params
    );

    /// @notice Both parties signed plan `planId`; the event holds the whole plan.
    /// @param packedInstalments Every instalment in 59 bytes: depositBy (5 bytes), releaseAt (5),
    /// amount (16), rule (1), materialsHash (32), big-endian, in index order (see {PlanHashing.packInstalments}).
    /// @param consentHash The EIP-712 struct hash both parties signed (see {hashPlan}).
    event PlanRecorded(
        uint64 indexed planId,
        uint64 indexed agreementSetId,
        bytes32 consentHash,
        DaifaTypes.PlanParams params,
        bytes packedInstalments,
        bytes32 instalmentsRoot
    );

    /// @notice Both parties replaced the instalments of `planId`; touched instalments are unchanged.
    /// @param packedInstalments The new instalments, packed as in {PlanRecorded}.
    event PlanAmended(uint64 indexed planId, bytes packedInstalments, bytes32 instalmentsRoot);

    /// @notice The payer approved the release of instalment `index`.
    event PayerApproved(uint64 indexed planId, uint16 index);
    /// @notice The payee delivered the materials hashed in `deliveredHash` for instalment `index`.
    event MaterialsSubmitted(uint64 indexed planId, uint16 index, bytes32 deliveredHash);
    /// @notice The operator reviewed the delivered materials; the payer may dispute until `reviewEndsAt`.
    event MaterialsAttested(uint64 indexed planId, uint16 index, bytes32 deliveredHash, uint40 reviewEndsAt);
    /// @notice `by` disputed instalment `index`; it is frozen until the plan's arbiter resolves it.
    event Disputed(uint64 indexed planId, uint16 index, address indexed by, bytes32 reasonHash);

    /*//////////////////////////////////////////////////////////////
                                 ERRORS
    //////////////////////////////////////////////////////////////*/

    /// @notice Thrown when new business (agreement sets, plans, amendments, deposits, a second pause) meets a pause.
    error EnforcedPause();
    /// @notice Thrown when the operator lifts a pause that is not in force.
    error ExpectedPause();
    /// @notice Thrown when the operator approves the zero address as a party.
    error Registry_ZeroAccount();
    /// @notice Thrown when `roles` is neither payer (1), payee (2) nor both (3).
    error Registry_InvalidRoles(uint8 roles);
    /// @notice Thrown when `account` is not approved for `role` (0: for any role).
    error Registry_PartyNotApproved(address account, uint8 role);
    /// @notice Thrown when a suspended `account` is named in a new agreement set or plan.
    error Registry_PartySuspended(address account);
    /// @notice Thrown when payer and payee are the same `account`.
    error Registry_SameParty(address account);

    /// @notice Thrown when an agreement set names no token.
    error Registry_NoTokens();
    /// @notice Thrown when an agreement set names the zero address as a token.
    error Registry_ZeroToken();
    /// @notice Thrown when an agreement set's credit limit is zero.
    error Registry_ZeroLimit();
    /// @notice Thrown when one of the three agreements' hashes is zero.
    error Registry_MissingAgreementHash();
    /// @notice Thrown when an agreement set or plan would expire at or before `now`.
    error Registry_ExpiryNotInFuture(uint40 expiry, uint256 now);

    /// @notice Thrown when no agreement set `agreementSetId` exists between `payer` and `payee`.
    error Registry_NoAgreementSet(uint64 agreementSetId, address payer, address payee);
    /// @notice Thrown when the plan's agreement set expired at `expiry`.
    error Registry_AgreementSetExpired(uint64 agreementSetId, uint40 expiry, uint256 now);
    /// @notice Thrown when a plan would run past its agreement set.
    error Registry_PlanOutlivesAgreementSet(uint40 planExpiry, uint40 agreementSetExpiry);
    /// @notice Thrown when the agreement set does not allow the plan's `token`.
    error Registry_TokenNotAllowed(uint64 agreementSetId, address token);
    /// @notice Thrown when a plan's total (`requested`) exceeds what is left of the agreement set's limit.
    error Registry_LimitExceeded(uint64 agreementSetId, uint256 requested, uint256 available);

    /// @notice Thrown when a plan has no instalments or more than `max`.
    error Registry_InstalmentCountOutOfRange(uint256 count, uint256 max);
    /// @notice Thrown when instalment `index` has a zero amount.
    error Registry_ZeroAmount(uint256 index);
    /// @notice Thrown when instalment `index` must be funded after it falls due.
    error Registry_InstalmentTimesOutOfOrder(uint256 index, uint40 depositBy, uint40 releaseAt);
    /// @notice Thrown when instalment `index` falls due after the plan expires.
    error Registry_ReleaseAfterExpiry(uint256 index, uint40 releaseAt, uint40 expiry);
    /// @notice Thrown when instalment `index` has a release rule other than TIME, PAYER_APPROVAL, MATERIALS.
    error Registry_UnknownReleaseRule(uint256 index, uint8 rule);
    /// @notice Thrown when MATERIALS instalment `index` has no hash of its materials list.
    error Registry_MaterialsListMissing(uint256 index);
    /// @notice Thrown when the fee exceeds `maxFeeBps` basis points.
    error Registry_FeeTooHigh(uint16 feeBps, uint16 maxFeeBps);
    /// @notice Thrown when a plan charges a fee but names no one to receive it.
    error Registry_FeeRecipientMissing();
    /// @notice Thrown when a plan names no arbiter.
    error Registry_ArbiterMissing();

    /// @notice Thrown when no plan `planId` was recorded.
    error Registry_UnknownPlan(uint64 planId);
    /// @notice Thrown when a batch of plans to record is empty.
    error Registry_NoPlans();
    /// @notice Thrown when the params and instalments passed are not the terms recorded for `planId`.
    error Registry_TermsMismatch(uint64 planId);
    /// @notice Thrown when the instalment and proof passed are not instalment `index` of the recorded plan.
    error Registry_InstalmentNotInPlan(uint64 planId, uint16 index);
    /// @notice Thrown when instalment `index` has release rule `rule`, not the one the call is for.
    error Registry_WrongReleaseRule(uint64 planId, uint16 index, uint8 rule);
    /// @notice Thrown when instalment `index` was already released, refunded, cancelled or resolved.
    error Registry_InstalmentClosed(uint64 planId, uint16 index);
    /// @notice Thrown when instalment `index` was already approved or its materials attested.
    error Registry_ConditionAlreadyMet(uint64 planId, uint16 index);
    /// @notice Thrown when instalment `index` is already disputed.
    error Registry_AlreadyDisputed(uint64 planId, uint16 index);
    /// @notice Thrown when `account`, neither the plan's payer nor its payee, disputes.
    error Registry_NotPlanParty(uint64 planId, address account);
    /// @notice Thrown when the operator attests materials the payee has not submitted.
    error Registry_MaterialsNotSubmitted(uint64 planId, uint16 index);
    /// @notice Thrown when the operator attests a hash other than the one the payee `submitted`.
    error Registry_MaterialsHashMismatch(uint64 planId, uint16 index, bytes32 submitted, bytes32 attested);
    /// @notice Thrown when an amendment changes or drops instalment `index`, which was already acted on.
    error Registry_InstalmentLocked(uint64 planId, uint256 index);
    /// @notice Thrown when the operator tries to renounce: hand over with {transferOwnership} instead.
    error Registry_RenounceDisabled();

    /*//////////////////////////////////////////////////////////////
                          OPERATOR: PARTIES
    //////////////////////////////////////////////////////////////*/

    /// @notice Approves `account` for `roles` (payer 1, payee 2, both 3) after a document review.
    /// @dev Operator only. Calling it again updates the roles and the documents' hash.
    /// @param account The party's wallet.
    /// @param roles Bit flags of {DaifaTypes.ROLE_PAYER} and {DaifaTypes.ROLE_PAYEE}; not zero.
    /// @param documentsHash Hash of the qualification documents the operator reviewed.
    function approveParty(address account, uint8 roles, bytes32 documentsHash) external;

    /// @notice Suspends `account` from new agreement sets and plans. Money owed to or by it still moves.
    /// @dev Operator only. Requires an approved party.
    /// @param account The party's wallet.
    function suspendParty(address account) external;

    /// @notice Lifts a suspension. Operator only.
    /// @param account The party's wallet.
    function reinstateParty(address account) external;

    /*//////////////////////////////////////////////////////////////
                     PARTIES: AGREEMENT SETS AND PLANS
    //////////////////////////////////////////////////////////////*/

    /// @notice Records a product opening that payer and payee both signed.
    /// @dev Requirements: not paused; both parties approved for their roles and not suspended; at least one
    /// token, none zero; a positive limit; an expiry in the future; the three agreements' hashes non-zero;
    /// valid signatures (or the sender is the party), unused nonces, deadline not passed.
    /// @param params The agreement set.
    /// @param auth The parties' consent over {PlanHashing.AGREEMENT_SET_TYPEHASH}.
    /// @return agreementSetId The next agreement set id (1, 2, ...).
    function recordAgreementSet(DaifaTypes.AgreementSetParams calldata params, DaifaTypes.JointAuthorization calldata auth)
        external
        returns (uint64 agreementSetId);

    /// @notice Records a plan that payer and payee both signed, under an open agreement set.
    /// @dev Requirements: not paused; the agreement set exists between the same parties, has not expired,
    /// outlives the plan, allows the token and has room for the plan's total; both parties approved and not
    /// suspended; 1 to {DaifaTypes.MAX_INSTALMENTS} instalments, each with a positive amount,
    /// depositBy <= releaseAt <= plan expiry, a known rule and, for MATERIALS, a materials list; fee within
    /// {DaifaTypes.MAX_FEE_BPS} with a recipient if any; an arbiter; valid signatures over the whole plan.
    /// @param params Everything but the instalments.
    /// @param instalments The instalments, in order; their index is their position.
    /// @param auth The parties' consent over {PlanHashing.PLAN_TYPEHASH}.
    /// @return planId The next plan id (1, 2, ...). Small ids keep every later call's calldata cheap.
    function recordPlan(
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.Instalment[] calldata instalments,
        DaifaTypes.JointAuthorization calldata auth
    ) external returns (uint64 planId);

    /// @notice Records several plans, each as {recordPlan} would, in one transaction: all or none.
    /// @dev Requirements: at least one plan; each as {recordPlan}. The plans take consecutive ids.
    /// @param plans The plans, each with its params, instalments and both parties' consent.
    /// @return firstPlanId The first plan's id; plan `i` of the batch is `firstPlanId + i`.
    function recordPlans(DaifaTypes.NewPlan[] calldata plans) external returns (uint64 firstPlanId);

    /// @notice Replaces a plan's instalments with both parties' consent.
    /// @dev Requirements: not paused; `current` are the plan's instalments; any instalment already funded,
    /// approved, delivered (materials submitted), disputed or closed stays exactly as it was; the new list passes the checks of {recordPlan}
    /// and fits the agreement set's limit.
    /// @param planId The recorded plan.
    /// @param params The plan's params, as recorded.
    /// @param current The plan's instalments now, in order.
    /// @param amended The instalments that replace them.
    /// @param auth The parties' consent over {PlanHashing.AMENDMENT_TYPEHASH}.
    /// @return amendedRoot The Merkle root of `amended`, part of the plan's new commitment.
    function amendPlan(
        uint64 planId,
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.Instalment[] calldata current,
        DaifaTypes.Instalment[] calldata amended,
        DaifaTypes.JointAuthorization calldata auth
    ) external returns (bytes32 amendedRoot);

    /// @notice The payer approves the release of a PAYER_APPROVAL instalment.
    /// @dev Requirements: the payer sent it or signed it; the rule is PAYER_APPROVAL; not closed; not yet approved.
    /// @param planId The recorded plan.
    /// @param params The plan's params, as recorded (checked against its commitment).
    /// @param ref The instalment, its index and its Merkle proof.
    /// @param sig The payer's {PlanHashing.PAYER_APPROVAL_TYPEHASH} signature, or empty if the payer sends it.
    function approveRelease(
        uint64 planId,
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.InstalmentRef calldata ref,
        DaifaTypes.PartySignature calldata sig
    ) external;

    /// @notice The payee submits the hash of the materials it delivered for a MATERIALS instalment.
    /// @dev Requirements: the payee sent it or signed it; the rule is MATERIALS; not closed; not yet attested.
    /// A new submission before attestation replaces the previous one.
    /// @param planId The recorded plan.
    /// @param params The plan's params, as recorded (checked against its commitment).
    /// @param ref The instalment, its index and its Merkle proof.
    /// @param deliveredHash Hash of the delivered materials (the platform keeps the files).
    /// @param sig The payee's {PlanHashing.MATERIALS_SUBMISSION_TYPEHASH} signature, or empty if the payee sends it.
    function submitMaterials(
        uint64 planId,
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.InstalmentRef calldata ref,
        bytes32 deliveredHash,
        DaifaTypes.PartySignature calldata sig
    ) external;

    /// @notice The operator attests that it reviewed the delivered materials; the review window starts.
    /// @dev Operator only. Requirements: rule MATERIALS; not closed; not yet attested; `deliveredHash`
    /// equals what the payee submitted.
    /// @param planId The recorded plan.
    /// @param params The plan's params, as recorded (checked against its commitment).
    /// @param ref The instalment, its index and its Merkle proof.
    /// @param deliveredHash The hash the payee submitted, as the operator reviewed it.
    function attestMaterials(
        uint64 planId,
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.InstalmentRef calldata ref,
        bytes32 deliveredHash
    ) external;

    /// @notice Payer or payee disputes an instalment that is not closed; it freezes until the arbiter splits it.
    /// @param planId The recorded plan.
    /// @param params The plan's params, as recorded (checked against its commitment).
    /// @param ref The instalment, its index and its Merkle proof.
    /// @param by The disputing party: the plan's payer or payee.
    /// @param reasonHash Hash of the written reason (the platform keeps the text).
    /// @param sig `by`'s {PlanHashing.DISPUTE_TYPEHASH} signature, or empty if `by` sends it.
    function dispute(
        uint64 planId,
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.InstalmentRef calldata ref,
        address by,
        bytes32 reasonHash,
        DaifaTypes.PartySignature calldata sig
    ) external;

    /*//////////////////////////////////////////////////////////////
                                 VIEWS
    //////////////////////////////////////////////////////////////*/

    /// @notice Whether new agreement sets, plans, amendments and deposits are paused.
    function paused() external view returns (bool);

    /// @notice The operator: approves parties, attests materials, pauses new business. It cannot move funds.
    function operator() external view returns (address);

    /// @notice A party's roles, suspension and reviewed documents' hash.
    /// @param account The party's wallet.
    function party(address account) external view returns (uint8 roles, bool suspended, bytes32 documentsHash);

    /// @notice An agreement set's parties, expiry, limit and what its plans have committed; zeros if unknown.
    /// @param agreementSetId The agreement set.
    function agreementSet(uint64 agreementSetId) external view returns (DaifaTypes.AgreementSet memory);

    /// @notice Whether plans under the agreement set may be paid in `token`.
    /// @param agreementSetId The agreement set.
    /// @param token The ERC-20 token.
    function isTokenAllowed(uint64 agreementSetId, address token) external view returns (bool);

    /// @notice The first 24 bytes of `keccak256(abi.encode(params, instalmentsRoot))` of a recorded plan, the
    /// commitment every call that acts on an instalment is checked against; zero for an unknown plan.
    /// @param planId The plan.
    function planCommitment(uint64 planId) external view returns (bytes24);

    /// @notice An instalment's status bits (see {DaifaTypes}): FUNDED 1, CONDITION_MET 2, DISPUTED 4, CLOSED 8.
    /// @param planId The plan.
    /// @param index The instalment's position in the plan.
    function instalmentStatus(uint64 planId, uint256 index) external view returns (uint8);

    /// @notice What the payee delivered for a MATERIALS instalment and when the operator attested it (0: not yet).
    /// @param planId The plan.
    /// @param index The instalment's position in the plan.
    function materials(uint64 planId, uint256 index) external view returns (bytes32 deliveredHash, uint40 attestedAt);

    /// @notice The struct hash and the digest the parties sign for a plan, and its instalments' Merkle root.
    /// @param params Everything but the instalments.
    /// @param instalments The instalments, in order.
    /// @param payerNonce The payer's unused nonce.
    /// @param payeeNonce The payee's unused nonce.
    /// @param deadline Unix time after which the signatures are refused.
    function hashPlan(
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.Instalment[] calldata instalments,
        uint256 payerNonce,
        uint256 payeeNonce,
        uint256 deadline
    ) external view returns (bytes32 consentHash, bytes32 digest, bytes32 instalmentsRoot);

    /// @notice The struct hash and the digest the parties sign for an agreement set.
    /// @param params The agreement set.
    /// @param payerNonce The payer's unused nonce.
    /// @param payeeNonce The payee's unused nonce.
    /// @param deadline Unix time after which the signatures are refused.
    function hashAgreementSet(
        DaifaTypes.AgreementSetParams calldata params,
        uint256 payerNonce,
        uint256 payeeNonce,
        uint256 deadline
    ) external view returns (bytes32 consentHash, bytes32 digest);
}
