// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {DaifaTypes} from "../libraries/DaifaTypes.sol";

/// @title IPlanRegistry
/// @notice Parties the operator approved, agreement sets (product openings) and disbursement plans that
/// payer and payee both signed, with the per-instalment actions of the parties and the operator.
/// @dev Every party action can be sent by the party itself or relayed by anyone with the party's EIP-712
/// signature (see {DaifaTypes.PartySignature}); the parties need no gas.
interface IPlanRegistry {
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
    /// @notice `owner` revoked every signature it gave with `nonce`.
    event NonceInvalidated(address indexed owner, uint256 nonce);

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

    error EnforcedPause();
    error ExpectedPause();
    error Registry_ZeroAccount();
    error Registry_InvalidRoles(uint8 roles);
    error Registry_PartyNotApproved(address account, uint8 role);
    error Registry_PartySuspended(address account);
    error Registry_SameParty(address account);

    error Registry_SignatureExpired(uint256 deadline, uint256 now);
    error Registry_InvalidSignature(address signer);
    error Registry_NonceAlreadyUsed(address signer, uint256 nonce);

    error Registry_NoTokens();
    error Registry_ZeroToken();
    error Registry_ZeroLimit();
    error Registry_MissingAgreementHash();
    error Registry_ExpiryNotInFuture(uint40 expiry, uint256 now);

    error Registry_NoAgreementSet(uint64 agreementSetId, address payer, address payee);
    error Registry_AgreementSetExpired(uint64 agreementSetId, uint40 expiry, uint256 now);
    error Registry_PlanOutlivesAgreementSet(uint40 planExpiry, uint40 agreementSetExpiry);
    error Registry_TokenNotAllowed(uint64 agreementSetId, address token);
    error Registry_LimitExceeded(uint64 agreementSetId, uint256 requested, uint256 available);

    error Registry_InstalmentCountOutOfRange(uint256 count, uint256 max);
    error Registry_ZeroAmount(uint256 index);
    error Registry_InstalmentTimesOutOfOrder(uint256 index, uint40 depositBy, uint40 releaseAt);
    error Registry_ReleaseAfterExpiry(uint256 index, uint40 releaseAt, uint40 expiry);
    error Registry_UnknownReleaseRule(uint256 index, uint8 rule);
    error Registry_MaterialsListMissing(uint256 index);
    error Registry_FeeTooHigh(uint16 feeBps, uint16 maxFeeBps);
    error Registry_FeeRecipientMissing();
    error Registry_ArbiterMissing();

    error Registry_UnknownPlan(uint64 planId);
    error Registry_TermsMismatch(uint64 planId);
    error Registry_InstalmentNotInPlan(uint64 planId, uint16 index);
    error Registry_WrongReleaseRule(uint64 planId, uint16 index, uint8 rule);
    error Registry_InstalmentClosed(uint64 planId, uint16 index);
    error Registry_ConditionAlreadyMet(uint64 planId, uint16 index);
    error Registry_AlreadyDisputed(uint64 planId, uint16 index);
    error Registry_NotPlanParty(uint64 planId, address account);
    error Registry_MaterialsNotSubmitted(uint64 planId, uint16 index);
    error Registry_MaterialsHashMismatch(uint64 planId, uint16 index, bytes32 submitted, bytes32 attested);
    error Registry_InstalmentLocked(uint64 planId, uint256 index);
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
    function suspendParty(address account) external;

    /// @notice Lifts a suspension. Operator only.
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

    /// @notice Replaces a plan's instalments with both parties' consent.
    /// @dev Requirements: not paused; `current` are the plan's instalments; any instalment already funded,
    /// approved, delivered (materials submitted), disputed or closed stays exactly as it was; the new list passes the checks of {recordPlan}
    /// and fits the agreement set's limit.
    function amendPlan(
        uint64 planId,
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.Instalment[] calldata current,
        DaifaTypes.Instalment[] calldata amended,
        DaifaTypes.JointAuthorization calldata auth
    ) external returns (bytes32 amendedRoot);

    /// @notice The payer approves the release of a PAYER_APPROVAL instalment.
    /// @dev Requirements: the payer sent it or signed it; the rule is PAYER_APPROVAL; not closed; not yet approved.
    function approveRelease(
        uint64 planId,
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.InstalmentRef calldata ref,
        DaifaTypes.PartySignature calldata sig
    ) external;

    /// @notice The payee submits the hash of the materials it delivered for a MATERIALS instalment.
    /// @dev Requirements: the payee sent it or signed it; the rule is MATERIALS; not closed; not yet attested.
    /// A new submission before attestation replaces the previous one.
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
    function attestMaterials(
        uint64 planId,
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.InstalmentRef calldata ref,
        bytes32 deliveredHash
    ) external;

    /// @notice Payer or payee disputes an instalment that is not closed; it freezes until the arbiter splits it.
    /// @param by The disputing party: the plan's payer or payee.
    function dispute(
        uint64 planId,
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.InstalmentRef calldata ref,
        address by,
        bytes32 reasonHash,
        DaifaTypes.PartySignature calldata sig
    ) external;

    /// @notice Revokes every signature the sender gave with `nonce`.
    function invalidateNonce(uint256 nonce) external;

    /*//////////////////////////////////////////////////////////////
                                 VIEWS
    //////////////////////////////////////////////////////////////*/

    /// @notice Whether new agreement sets, plans, amendments and deposits are paused.
    function paused() external view returns (bool);

    /// @notice The operator: approves parties, attests materials, pauses new business. It cannot move funds.
    function operator() external view returns (address);

    /// @notice A party's roles, suspension and reviewed documents' hash.
    function party(address account) external view returns (uint8 roles, bool suspended, bytes32 documentsHash);

    function agreementSet(uint64 agreementSetId) external view returns (DaifaTypes.AgreementSet memory);

    function isTokenAllowed(uint64 agreementSetId, address token) external view returns (bool);

    /// @notice The first 24 bytes of `keccak256(abi.encode(params, instalmentsRoot))` of a recorded plan, the
    /// commitment every call that acts on an instalment is checked against; zero for an unknown plan.
    function planCommitment(uint64 planId) external view returns (bytes24);

    /// @notice An instalment's status bits (see {DaifaTypes}): FUNDED 1, CONDITION_MET 2, DISPUTED 4, CLOSED 8.
    function instalmentStatus(uint64 planId, uint256 index) external view returns (uint8);

    /// @notice What the payee delivered for a MATERIALS instalment and when the operator attested it (0: not yet).
    function materials(uint64 planId, uint256 index) external view returns (bytes32 deliveredHash, uint40 attestedAt);

    function isNonceUsed(address owner, uint256 nonce) external view returns (bool);

    /// @notice The EIP-712 domain separator (name "Daifa", version "1", this chain, this contract).
    function domainSeparator() external view returns (bytes32);

    /// @notice The struct hash and the digest the parties sign for a plan, and its instalments' Merkle root.
    function hashPlan(
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.Instalment[] calldata instalments,
        uint256 payerNonce,
        uint256 payeeNonce,
        uint256 deadline
    ) external view returns (bytes32 consentHash, bytes32 digest, bytes32 instalmentsRoot);

    /// @notice The struct hash and the digest the parties sign for an agreement set.
    function hashAgreementSet(
        DaifaTypes.AgreementSetParams calldata params,
        uint256 payerNonce,
        uint256 payeeNonce,
        uint256 deadline
    ) external view returns (bytes32 consentHash, bytes32 digest);
}
