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
    /// @notice `owner` revoked every signature it gave with `nonce`.
    event NonceInvalidated(address indexed owner, uint256 nonce);

    /// @notice Both parties signed the product opening `agreementSetId`; `params` is all of it.
    event AgreementSetRecorded(
        bytes32 indexed agreementSetId,
        address indexed payer,
        address indexed payee,
        DaifaTypes.AgreementSetParams params
    );

    /// @notice Both parties signed plan `planId`; the event holds the whole plan.
    /// @param packedInstalments Every instalment in 59 bytes: depositBy (5 bytes), releaseAt (5),
    /// amount (16), rule (1), materialsHash (32), big-endian, in index order (see {PlanHashing.packInstalments}).
    event PlanRecorded(
        bytes32 indexed planId,
        bytes32 indexed agreementSetId,
        DaifaTypes.PlanParams params,
        bytes packedInstalments,
        bytes32 instalmentsRoot
    );

    /// @notice Both parties replaced the instalments of `planId`; touched instalments are unchanged.
    /// @param packedInstalments The new instalments, packed as in {PlanRecorded}.
    event PlanAmended(bytes32 indexed planId, bytes packedInstalments, bytes32 instalmentsRoot);

    /// @notice The payer approved the release of instalment `index`.
    event PayerApproved(bytes32 indexed planId, uint16 index);
    /// @notice The payee delivered the materials hashed in `deliveredHash` for instalment `index`.
    event MaterialsSubmitted(bytes32 indexed planId, uint16 index, bytes32 deliveredHash);
    /// @notice The operator reviewed the delivered materials; the payer may dispute until `reviewEndsAt`.
    event MaterialsAttested(bytes32 indexed planId, uint16 index, bytes32 deliveredHash, uint40 reviewEndsAt);
    /// @notice `by` disputed instalment `index`; it is frozen until the plan's arbiter resolves it.
    event Disputed(bytes32 indexed planId, uint16 index, address indexed by, bytes32 reasonHash);

    /*//////////////////////////////////////////////////////////////
                                 ERRORS
    //////////////////////////////////////////////////////////////*/

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

    error Registry_NoAgreementSet(bytes32 agreementSetId, address payer, address payee);
    error Registry_AgreementSetExpired(bytes32 agreementSetId, uint40 expiry, uint256 now);
    error Registry_PlanOutlivesAgreementSet(uint40 planExpiry, uint40 agreementSetExpiry);
    error Registry_TokenNotAllowed(bytes32 agreementSetId, address token);
    error Registry_LimitExceeded(bytes32 agreementSetId, uint256 requested, uint256 available);

    error Registry_InstalmentCountOutOfRange(uint256 count, uint256 max);
    error Registry_ZeroAmount(uint256 index);
    error Registry_InstalmentTimesOutOfOrder(uint256 index, uint40 depositBy, uint40 releaseAt);
    error Registry_ReleaseAfterExpiry(uint256 index, uint40 releaseAt, uint40 expiry);
    error Registry_UnknownReleaseRule(uint256 index, uint8 rule);
    error Registry_MaterialsListMissing(uint256 index);
    error Registry_FeeTooHigh(uint16 feeBps, uint16 maxFeeBps);
    error Registry_FeeRecipientMissing();
    error Registry_ArbiterMissing();

    error Registry_UnknownPlan(bytes32 planId);
    error Registry_TermsMismatch(bytes32 planId);
    error Registry_InstalmentNotInPlan(bytes32 planId, uint16 index);
    error Registry_WrongReleaseRule(bytes32 planId, uint16 index, uint8 rule);
    error Registry_InstalmentClosed(bytes32 planId, uint16 index);
    error Registry_ConditionAlreadyMet(bytes32 planId, uint16 index);
    error Registry_AlreadyDisputed(bytes32 planId, uint16 index);
    error Registry_NotPlanParty(bytes32 planId, address account);
    error Registry_MaterialsNotSubmitted(bytes32 planId, uint16 index);
    error Registry_MaterialsHashMismatch(bytes32 planId, uint16 index, bytes32 submitted, bytes32 attested);
    error Registry_InstalmentLocked(bytes32 planId, uint256 index);
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
    /// @return agreementSetId The EIP-712 struct hash of the signed agreement set.
    function recordAgreementSet(DaifaTypes.AgreementSetParams calldata params, DaifaTypes.JointAuthorization calldata auth)
        external
        returns (bytes32 agreementSetId);

    /// @notice Records a plan that payer and payee both signed, under an open agreement set.
    /// @dev Requirements: not paused; the agreement set exists between the same parties, has not expired,
    /// outlives the plan, allows the token and has room for the plan's total; both parties approved and not
    /// suspended; 1 to {DaifaTypes.MAX_INSTALMENTS} instalments, each with a positive amount,
    /// depositBy <= releaseAt <= plan expiry, a known rule and, for MATERIALS, a materials list; fee within
    /// {DaifaTypes.MAX_FEE_BPS} with a recipient if any; an arbiter; valid signatures over the whole plan.
    /// @param params Everything but the instalments.
    /// @param instalments The instalments, in order; their index is their position.
    /// @param auth The parties' consent over {PlanHashing.PLAN_TYPEHASH}.
    /// @return planId The EIP-712 struct hash of the signed plan.
    function recordPlan(
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.Instalment[] calldata instalments,
        DaifaTypes.JointAuthorization calldata auth
    ) external returns (bytes32 planId);

    /// @notice Replaces a plan's instalments with both parties' consent.
    /// @dev Requirements: not paused; `current` are the plan's instalments; any instalment already funded,
    /// approved, disputed or closed stays exactly as it was; the new list passes the checks of {recordPlan}
    /// and fits the agreement set's limit.
    function amendPlan(
        bytes32 planId,
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.Instalment[] calldata current,
        DaifaTypes.Instalment[] calldata amended,
        DaifaTypes.JointAuthorization calldata auth
    ) external returns (bytes32 amendedRoot);

    /// @notice The payer approves the release of a PAYER_APPROVAL instalment.
    /// @dev Requirements: the payer sent it or signed it; the rule is PAYER_APPROVAL; not closed; not yet approved.
    function approveRelease(
        bytes32 planId,
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.InstalmentRef calldata ref,
        DaifaTypes.PartySignature calldata sig
    ) external;

    /// @notice The payee submits the hash of the materials it delivered for a MATERIALS instalment.
    /// @dev Requirements: the payee sent it or signed it; the rule is MATERIALS; not closed; not yet attested.
    /// A new submission before attestation replaces the previous one.
    function submitMaterials(
        bytes32 planId,
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.InstalmentRef calldata ref,
        bytes32 deliveredHash,
        DaifaTypes.PartySignature calldata sig
    ) external;

    /// @notice The operator attests that it reviewed the delivered materials; the review window starts.
    /// @dev Operator only. Requirements: rule MATERIALS; not closed; not yet attested; `deliveredHash`
    /// equals what the payee submitted.
    function attestMaterials(
        bytes32 planId,
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.InstalmentRef calldata ref,
        bytes32 deliveredHash
    ) external;

    /// @notice Payer or payee disputes an instalment that is not closed; it freezes until the arbiter splits it.
    /// @param by The disputing party: the plan's payer or payee.
    function dispute(
        bytes32 planId,
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

    /// @notice The operator: approves parties, attests materials, pauses new business. It cannot move funds.
    function operator() external view returns (address);

    /// @notice A party's roles, suspension and reviewed documents' hash.
    function party(address account) external view returns (uint8 roles, bool suspended, bytes32 documentsHash);

    function agreementSet(bytes32 agreementSetId) external view returns (DaifaTypes.AgreementSet memory);

    function isTokenAllowed(bytes32 agreementSetId, address token) external view returns (bool);

    /// @notice The first 24 bytes of `keccak256(abi.encode(params, instalmentsRoot))` of a recorded plan, the
    /// commitment every call that acts on an instalment is checked against; zero for an unknown plan.
    function planCommitment(bytes32 planId) external view returns (bytes24);

    /// @notice An instalment's status bits (see {DaifaTypes}): FUNDED 1, CONDITION_MET 2, DISPUTED 4, CLOSED 8.
    function instalmentStatus(bytes32 planId, uint256 index) external view returns (uint8);

    /// @notice What the payee delivered for a MATERIALS instalment and when the operator attested it (0: not yet).
    function materials(bytes32 planId, uint256 index) external view returns (bytes32 deliveredHash, uint40 attestedAt);

    function isNonceUsed(address owner, uint256 nonce) external view returns (bool);

    /// @notice The EIP-712 domain separator (name "Daifa", version "1", this chain, this contract).
    function domainSeparator() external view returns (bytes32);

    /// @notice The plan id, the digest the parties sign, and the instalments' Merkle root, for off-chain checks.
    function hashPlan(
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.Instalment[] calldata instalments,
        uint256 payerNonce,
        uint256 payeeNonce,
        uint256 deadline
    ) external view returns (bytes32 planId, bytes32 digest, bytes32 instalmentsRoot);

    /// @notice The agreement set id and the digest the parties sign.
    function hashAgreementSet(
        DaifaTypes.AgreementSetParams calldata params,
        uint256 payerNonce,
        uint256 payeeNonce,
        uint256 deadline
    ) external view returns (bytes32 agreementSetId, bytes32 digest);
}
