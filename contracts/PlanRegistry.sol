// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {Consent} from "./abstracts/Consent.sol";
import {IPlanRegistry} from "./interfaces/IPlanRegistry.sol";
import {DaifaTypes} from "./libraries/DaifaTypes.sol";
import {InstalmentStatus} from "./libraries/InstalmentStatus.sol";
import {PlanHashing} from "./libraries/PlanHashing.sol";

/// @title PlanRegistry
/// @notice Parties, agreement sets and plans both parties signed, and each instalment's status.
/// @dev Abstract: deployed as part of {DaifaEscrow}, so plan state and money are checked in one call and
/// cannot drift apart. A plan is stored as a commitment to its params and instalments' Merkle root plus
/// packed four-bit instalment statuses ({InstalmentStatus}); calls that act on an instalment pass the
/// params, the instalment and its Merkle proof. How parties consent is {Consent}.
abstract contract PlanRegistry is IPlanRegistry, Ownable2Step, Consent {
    using InstalmentStatus for DaifaTypes.PlanState;

    /*//////////////////////////////////////////////////////////////
                                STORAGE
    //////////////////////////////////////////////////////////////*/

    DaifaTypes.Counters private _counters;
    mapping(address account => DaifaTypes.Party) private _parties;
    mapping(uint64 agreementSetId => DaifaTypes.SetParties) private _setParties;
    mapping(bytes32 budgetKey => DaifaTypes.Budget) private _budgets;
    mapping(uint64 agreementSetId => mapping(address token => bool)) private _allowedTokens;
    mapping(uint64 planId => DaifaTypes.PlanState) private _plans;

    /*//////////////////////////////////////////////////////////////
                              CONSTRUCTOR
    //////////////////////////////////////////////////////////////*/

    constructor(address initialOperator) Ownable(initialOperator) {}

    /*//////////////////////////////////////////////////////////////
                               MODIFIERS
    //////////////////////////////////////////////////////////////*/

    modifier whenNotPaused() {
        if (_counters.paused) revert EnforcedPause();
        _;
    }

    /*//////////////////////////////////////////////////////////////
                          OPERATOR: PARTIES
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IPlanRegistry
    function approveParty(address account, uint8 roles, bytes32 documentsHash) external onlyOwner {
        if (account == address(0)) revert Registry_ZeroAccount();
        if (roles == 0 || roles > (DaifaTypes.ROLE_PAYER | DaifaTypes.ROLE_PAYEE)) revert Registry_InvalidRoles(roles);
        DaifaTypes.Party storage p = _parties[account];
        p.roles = roles;
        p.documentsHash = documentsHash;
        emit PartyApproved(account, roles, documentsHash);
    }

    /// @inheritdoc IPlanRegistry
    function suspendParty(address account) external onlyOwner {
        DaifaTypes.Party storage p = _parties[account];
        if (p.roles == 0) revert Registry_PartyNotApproved(account, 0);
        p.suspended = true;
        emit PartySuspended(account);
    }

    /// @inheritdoc IPlanRegistry
    function reinstateParty(address account) external onlyOwner {
        DaifaTypes.Party storage p = _parties[account];
        if (p.roles == 0) revert Registry_PartyNotApproved(account, 0);
        p.suspended = false;
        emit PartyReinstated(account);
    }

    /// @notice Disabled: without an operator no materials could be attested. Hand over with {transferOwnership}.
    function renounceOwnership() public view override onlyOwner {
        revert Registry_RenounceDisabled();
    }

    /*//////////////////////////////////////////////////////////////
                     PARTIES: AGREEMENT SETS AND PLANS
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IPlanRegistry
    function recordAgreementSet(DaifaTypes.AgreementSetParams calldata params, DaifaTypes.JointAuthorization calldata auth)
        external
        whenNotPaused
        returns (uint64 agreementSetId)
    {
        // Checks
        if (params.payer == params.payee) revert Registry_SameParty(params.payer);
        _requireActiveParty(params.payer, DaifaTypes.ROLE_PAYER);
        _requireActiveParty(params.payee, DaifaTypes.ROLE_PAYEE);
        if (params.tokens.length == 0) revert Registry_NoTokens();
        if (params.limit == 0) revert Registry_ZeroLimit();
        // slither-disable-next-line timestamp (only refuses an expiry already past; drift of seconds is immaterial)
        if (params.expiry <= block.timestamp) revert Registry_ExpiryNotInFuture(params.expiry, block.timestamp);
        if (
            params.payerPlatformAgreement == 0 || params.payeePlatformAgreement == 0
                || params.payerPayeeAgreement == 0
        ) revert Registry_MissingAgreementHash();
        bytes32 consentHash = PlanHashing.hashAgreementSet(params, auth.payerNonce, auth.payeeNonce, auth.deadline);
        _requireJointConsent(consentHash, params.payer, params.payee, auth);

        // Effects
        agreementSetId = ++_counters.agreementSetCount;
        _setParties[agreementSetId] = DaifaTypes.SetParties({payer: params.payer, payee: params.payee});
        _budgets[_budgetKey(agreementSetId, params.payer, params.payee)] =
            DaifaTypes.Budget({expiry: params.expiry, limit: params.limit, committed: 0});
        for (uint256 i; i < params.tokens.length; ++i) {
            if (params.tokens[i] == address(0)) revert Registry_ZeroToken();
            _allowedTokens[agreementSetId][params.tokens[i]] = true;
        }
        emit AgreementSetRecorded(agreementSetId, params.payer, params.payee, consentHash, params);
    }

    /// @inheritdoc IPlanRegistry
    function recordPlan(
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.Instalment[] calldata instalments,
        DaifaTypes.JointAuthorization calldata auth
    ) external whenNotPaused returns (uint64 planId) {
        (planId,) = _recordPlan(params, instalments, auth, 0);
    }

    /// @inheritdoc IPlanRegistry
    function recordPlans(DaifaTypes.NewPlan[] calldata plans) external whenNotPaused returns (uint64 firstPlanId) {
        if (plans.length == 0) revert Registry_NoPlans();
        for (uint256 i; i < plans.length; ++i) {
            DaifaTypes.NewPlan calldata p = plans[i];
            (uint64 planId,) = _recordPlan(p.params, p.instalments, p.auth, 0);
            if (i == 0) firstPlanId = planId;
        }
    }

    /// @inheritdoc IPlanRegistry
    function amendPlan(
        uint64 planId,
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.Instalment[] calldata current,
        DaifaTypes.Instalment[] calldata amended,
        DaifaTypes.JointAuthorization calldata auth
    ) external whenNotPaused returns (bytes32 amendedRoot) {
        // Checks
        (DaifaTypes.PlanState storage plan, uint256 head, bytes32 currentRoot) = _requireTerms(planId, params, current);
        uint256 newTotal = _requireValidInstalments(amended, params.expiry);
        uint256 oldTotal = 0;
        for (uint256 i = 0; i < current.length; ++i) {
            unchecked {
                oldTotal += current[i].amount; // as in {_requireValidInstalments}: cannot overflow
            }
            if (plan.get(i) == 0 && plan.materials[i].deliveredHash == 0) continue;
            // Funded, approved, delivered, disputed or closed: it must stay exactly as both signed it.
            if (i >= amended.length || PlanHashing.hashInstalment(amended[i]) != PlanHashing.hashInstalment(current[i]))
            {
                revert Registry_InstalmentLocked(planId, i);
            }
        }
        _commitToAgreementSet(params, newTotal, oldTotal);
        bytes32 arrayHash;
        (arrayHash, amendedRoot) = PlanHashing.hashInstalments(amended);
        bytes32 structHash = PlanHashing.hashAmendment(
            planId, currentRoot, arrayHash, auth.payerNonce, auth.payeeNonce, auth.deadline
        );
        _requireJointConsent(structHash, params.payer, params.payee, auth);

        // Effects
        plan.head = InstalmentStatus.recommit(head, PlanHashing.hashTerms(params, amendedRoot));
        plan.allocate(current.length, amended.length, 0);
        emit PlanAmended(planId, PlanHashing.packInstalments(amended), amendedRoot);
    }

    /// @inheritdoc IPlanRegistry
    function approveRelease(
        uint64 planId,
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.InstalmentRef calldata ref,
        DaifaTypes.PartySignature calldata sig
    ) external {
        DaifaTypes.PlanState storage plan =
            _requireAwaitingCondition(planId, params, ref, DaifaTypes.RULE_PAYER_APPROVAL);
        _requirePartyConsent(
            params.payer, PlanHashing.hashPayerApproval(planId, ref.index, sig.nonce, sig.deadline), sig
        );
        plan.set(ref.index, DaifaTypes.CONDITION_MET);
        emit PayerApproved(planId, ref.index);
    }

    /// @inheritdoc IPlanRegistry
    function submitMaterials(
        uint64 planId,
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.InstalmentRef calldata ref,
        bytes32 deliveredHash,
        DaifaTypes.PartySignature calldata sig
    ) external {
        DaifaTypes.PlanState storage plan = _requireAwaitingCondition(planId, params, ref, DaifaTypes.RULE_MATERIALS);
        _requirePartyConsent(
            params.payee,
            PlanHashing.hashMaterialsSubmission(planId, ref.index, deliveredHash, sig.nonce, sig.deadline),
            sig
        );
        plan.materials[ref.index].deliveredHash = deliveredHash;
        emit MaterialsSubmitted(planId, ref.index, deliveredHash);
    }

    /// @inheritdoc IPlanRegistry
    function attestMaterials(
        uint64 planId,
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.InstalmentRef calldata ref,
        bytes32 deliveredHash
    ) external onlyOwner {
        DaifaTypes.PlanState storage plan = _requireAwaitingCondition(planId, params, ref, DaifaTypes.RULE_MATERIALS);
        DaifaTypes.Materials storage m = plan.materials[ref.index];
        bytes32 submitted = m.deliveredHash;
        if (submitted == 0) revert Registry_MaterialsNotSubmitted(planId, ref.index);
        if (submitted != deliveredHash) {
            revert Registry_MaterialsHashMismatch(planId, ref.index, submitted, deliveredHash);
        }
        m.attestedAt = uint40(block.timestamp);
        plan.set(ref.index, DaifaTypes.CONDITION_MET);
        emit MaterialsAttested(planId, ref.index, deliveredHash, uint40(block.timestamp) + params.reviewWindow);
    }

    /// @inheritdoc IPlanRegistry
    function dispute(
        uint64 planId,
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.InstalmentRef calldata ref,
        address by,
        bytes32 reasonHash,
        DaifaTypes.PartySignature calldata sig
    ) external {
        DaifaTypes.PlanState storage plan = _requireInstalment(planId, params, ref);
        if (by != params.payer && by != params.payee) revert Registry_NotPlanParty(planId, by);
        uint8 status = _requireOpen(plan, planId, ref.index);
        if (status & DaifaTypes.DISPUTED != 0) revert Registry_AlreadyDisputed(planId, ref.index);
        _requirePartyConsent(by, PlanHashing.hashDispute(planId, ref.index, reasonHash, sig.nonce, sig.deadline), sig);
        plan.set(ref.index, DaifaTypes.DISPUTED);
        emit Disputed(planId, ref.index, by, reasonHash);
    }

    /*//////////////////////////////////////////////////////////////
                                 VIEWS
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IPlanRegistry
    function paused() public view returns (bool) {
        return _counters.paused;
    }

    /// @inheritdoc IPlanRegistry
    function operator() external view returns (address) {
        return owner();
    }

    /// @inheritdoc IPlanRegistry
    function party(address account) external view returns (uint8 roles, bool suspended, bytes32 documentsHash) {
        DaifaTypes.Party storage p = _parties[account];
        return (p.roles, p.suspended, p.documentsHash);
    }

    /// @inheritdoc IPlanRegistry
    function agreementSet(uint64 agreementSetId) external view returns (DaifaTypes.AgreementSet memory) {
        DaifaTypes.SetParties storage parties = _setParties[agreementSetId];
        DaifaTypes.Budget storage budget = _budgets[_budgetKey(agreementSetId, parties.payer, parties.payee)];
        return DaifaTypes.AgreementSet({
            payer: parties.payer,
            payee: parties.payee,
            expiry: budget.expiry,
            limit: budget.limit,
            committed: budget.committed
        });
    }

    /// @inheritdoc IPlanRegistry
    function isTokenAllowed(uint64 agreementSetId, address token) external view returns (bool) {
        return _allowedTokens[agreementSetId][token];
    }

    /// @inheritdoc IPlanRegistry
    function planCommitment(uint64 planId) external view returns (bytes24) {
        return bytes24(bytes32(_plans[planId].head));
    }

    /// @inheritdoc IPlanRegistry
    function instalmentStatus(uint64 planId, uint256 index) external view returns (uint8) {
        return _plans[planId].get(index);
    }

    /// @inheritdoc IPlanRegistry
    function materials(uint64 planId, uint256 index) external view returns (bytes32 deliveredHash, uint40 attestedAt) {
        DaifaTypes.Materials storage m = _plans[planId].materials[index];
        return (m.deliveredHash, m.attestedAt);
    }

    /// @inheritdoc IPlanRegistry
    function hashPlan(
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.Instalment[] calldata instalments,
        uint256 payerNonce,
        uint256 payeeNonce,
        uint256 deadline
    ) external view returns (bytes32 consentHash, bytes32 digest, bytes32 instalmentsRoot) {
        bytes32 arrayHash;
        (arrayHash, instalmentsRoot) = PlanHashing.hashInstalments(instalments);
        consentHash = PlanHashing.hashPlan(params, arrayHash, payerNonce, payeeNonce, deadline);
        digest = _hashTypedDataV4(consentHash);
    }

    /// @inheritdoc IPlanRegistry
    function hashAgreementSet(
        DaifaTypes.AgreementSetParams calldata params,
        uint256 payerNonce,
        uint256 payeeNonce,
        uint256 deadline
    ) external view returns (bytes32 consentHash, bytes32 digest) {
        consentHash = PlanHashing.hashAgreementSet(params, payerNonce, payeeNonce, deadline);
        digest = _hashTypedDataV4(consentHash);
    }

    /*//////////////////////////////////////////////////////////////
                            INTERNAL: RECORDING
    //////////////////////////////////////////////////////////////*/

    /// @dev Records a plan both parties signed, each instalment's status starting as `status` (FUNDED when
    /// the caller pulls the returned total in the same call), and returns its id and total.
    function _recordPlan(
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.Instalment[] calldata instalments,
        DaifaTypes.JointAuthorization calldata auth,
        uint8 status
    ) internal returns (uint64 planId, uint256 total) {
        // Checks; the agreement set's budget is taken here, and a failed check below reverts it with the rest.
        _requirePlanParams(params);
        total = _requireValidInstalments(instalments, params.expiry);
        _commitToAgreementSet(params, total, 0);
        (bytes32 arrayHash, bytes32 root) = PlanHashing.hashInstalments(instalments);
        bytes32 consentHash = PlanHashing.hashPlan(params, arrayHash, auth.payerNonce, auth.payeeNonce, auth.deadline);
        _requireJointConsent(consentHash, params.payer, params.payee, auth);

        // Effects: the nonces the signatures used are spent, so the same consent cannot record twice.
        planId = ++_counters.planCount;
        DaifaTypes.PlanState storage plan = _plans[planId];
        uint256 count = instalments.length;
        plan.head =
            InstalmentStatus.commitment(PlanHashing.hashTerms(params, root)) | InstalmentStatus.headStatuses(count, status);
        plan.allocate(0, count, status);
        emit PlanRecorded(
            planId, params.agreementSetId, consentHash, params, PlanHashing.packInstalments(instalments), root
        );
    }

    /*//////////////////////////////////////////////////////////////
                          INTERNAL: VALIDATION
    //////////////////////////////////////////////////////////////*/

    function _requireActiveParty(address account, uint8 role) internal view {
        DaifaTypes.Party storage p = _parties[account];
        if (p.roles & role == 0) revert Registry_PartyNotApproved(account, role);
        if (p.suspended) revert Registry_PartySuspended(account);
    }

    function _requirePlanParams(DaifaTypes.PlanParams calldata params) private view {
        if (params.feeBps > DaifaTypes.MAX_FEE_BPS) revert Registry_FeeTooHigh(params.feeBps, DaifaTypes.MAX_FEE_BPS);
        if (params.feeBps != 0 && params.feeRecipient == address(0)) revert Registry_FeeRecipientMissing();
        if (params.arbiter == address(0)) revert Registry_ArbiterMissing();
        // slither-disable-next-line timestamp (only refuses an expiry already past; drift of seconds is immaterial)
        if (params.expiry <= block.timestamp) revert Registry_ExpiryNotInFuture(params.expiry, block.timestamp);
        _requireActiveParty(params.payer, DaifaTypes.ROLE_PAYER);
        _requireActiveParty(params.payee, DaifaTypes.ROLE_PAYEE);
    }

    /// @dev Checks every instalment and returns their total.
    function _requireValidInstalments(DaifaTypes.Instalment[] calldata instalments, uint40 expiry)
        private
        pure
        returns (uint256 total)
    {
        uint256 count = instalments.length;
        if (count == 0 || count > DaifaTypes.MAX_INSTALMENTS) {
            revert Registry_InstalmentCountOutOfRange(count, DaifaTypes.MAX_INSTALMENTS);
        }
        for (uint256 i; i < count; ++i) {
            DaifaTypes.Instalment calldata inst = instalments[i];
            if (inst.amount == 0) revert Registry_ZeroAmount(i);
            if (inst.depositBy > inst.releaseAt) {
                revert Registry_InstalmentTimesOutOfOrder(i, inst.depositBy, inst.releaseAt);
            }
            if (inst.releaseAt > expiry) revert Registry_ReleaseAfterExpiry(i, inst.releaseAt, expiry);
            if (inst.rule > DaifaTypes.RULE_MATERIALS) revert Registry_UnknownReleaseRule(i, inst.rule);
            if (inst.rule == DaifaTypes.RULE_MATERIALS && inst.materialsHash == 0) {
                revert Registry_MaterialsListMissing(i);
            }
            // At most MAX_INSTALMENTS amounts below 2^128 each: the sum cannot overflow 256 bits.
            unchecked {
                total += inst.amount;
            }
        }
    }

    /// @dev Checks the plan against its agreement set and moves the set's committed total from
    /// `oldTotal` to `newTotal`.
    function _commitToAgreementSet(DaifaTypes.PlanParams calldata params, uint256 newTotal, uint256 oldTotal)
        private
    {
        uint64 setId = params.agreementSetId;
        DaifaTypes.Budget storage budget = _budgets[_budgetKey(setId, params.payer, params.payee)];
        uint40 setExpiry = budget.expiry;
        if (setExpiry == 0) revert Registry_NoAgreementSet(setId, params.payer, params.payee);
        // slither-disable-next-line timestamp (agreement sets last months; drift of seconds is immaterial)
        if (setExpiry <= block.timestamp) revert Registry_AgreementSetExpired(setId, setExpiry, block.timestamp);
        if (params.expiry > setExpiry) revert Registry_PlanOutlivesAgreementSet(params.expiry, setExpiry);
        if (!_allowedTokens[setId][params.token]) revert Registry_TokenNotAllowed(setId, params.token);
        uint256 available = uint256(budget.limit) - budget.committed + oldTotal;
        if (newTotal > available) revert Registry_LimitExceeded(setId, newTotal, available);
        budget.committed = uint104(uint256(budget.committed) + newTotal - oldTotal);
    }

    /// @dev Gives back `amount` of the agreement set's limit when instalments are cancelled.
    function _releaseCommitment(DaifaTypes.PlanParams calldata params, uint256 amount) internal {
        DaifaTypes.Budget storage budget = _budgets[_budgetKey(params.agreementSetId, params.payer, params.payee)];
        budget.committed = uint104(uint256(budget.committed) - amount);
    }

    /// @dev `keccak256(abi.encode(agreementSetId, payer, payee))`, hashed past the free memory pointer
    /// without allocating: recording, amending and cancelling all look the budget up.
    function _budgetKey(uint64 agreementSetId, address payer, address payee) private pure returns (bytes32 key) {
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, and(agreementSetId, 0xffffffffffffffff))
            mstore(add(m, 0x20), and(payer, 0xffffffffffffffffffffffffffffffffffffffff))
            mstore(add(m, 0x40), and(payee, 0xffffffffffffffffffffffffffffffffffffffff))
            key := keccak256(m, 0x60)
        }
    }

    /// @dev Reverts unless `instalments` are all of the recorded plan's instalments, in order, and `params`
    /// its params: they rebuild its commitment. Returns the plan's state, its head word and the root.
    function _requireTerms(
        uint64 planId,
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.Instalment[] calldata instalments
    ) internal view returns (DaifaTypes.PlanState storage plan, uint256 head, bytes32 root) {
        plan = _plans[planId];
        head = plan.head;
        if (head == 0) revert Registry_UnknownPlan(planId);
        root = PlanHashing.instalmentsRoot(instalments);
        if (!InstalmentStatus.commitsTo(head, PlanHashing.hashTerms(params, root))) {
            revert Registry_TermsMismatch(planId);
        }
    }

    /// @dev Reverts unless `ref` is instalment `ref.index` of the recorded plan with these `params`;
    /// returns the plan's state, so callers read and set its statuses without looking it up again.
    function _requireInstalment(
        uint64 planId,
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.InstalmentRef calldata ref
    ) internal view returns (DaifaTypes.PlanState storage plan) {
        bool known;
        bool inPlan;
        (plan, known, inPlan) = _checkInstalment(planId, params, ref);
        if (!known) revert Registry_UnknownPlan(planId);
        if (!inPlan) revert Registry_InstalmentNotInPlan(planId, ref.index);
    }

    /// @dev As {_requireInstalment}, returning the custom error encoded instead of reverting; empty if none.
    function _instalmentFailure(
        uint64 planId,
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.InstalmentRef calldata ref
    ) internal view returns (DaifaTypes.PlanState storage plan, bytes memory failure) {
        bool known;
        bool inPlan;
        (plan, known, inPlan) = _checkInstalment(planId, params, ref);
        if (!known) failure = abi.encodeWithSelector(Registry_UnknownPlan.selector, planId);
        else if (!inPlan) failure = abi.encodeWithSelector(Registry_InstalmentNotInPlan.selector, planId, ref.index);
    }

    /// @dev The proof yields the instalments' root, and the params with that root must hash to the stored
    /// commitment: so calls need not carry the root, and the leaf's index binding means no index outside
    /// the plan can be proven.
    function _checkInstalment(
        uint64 planId,
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.InstalmentRef calldata ref
    ) private view returns (DaifaTypes.PlanState storage plan, bool known, bool inPlan) {
        plan = _plans[planId];
        uint256 head = plan.head;
        if (head == 0) return (plan, false, false);
        bytes32 leaf = PlanHashing.leaf(ref.index, PlanHashing.hashInstalment(ref.instalment));
        bytes32 root = MerkleProof.processProofCalldata(ref.proof, leaf);
        return (plan, true, InstalmentStatus.commitsTo(head, PlanHashing.hashTerms(params, root)));
    }

    /// @dev Reverts unless `ref` is an instalment of the plan with release rule `rule` that is neither
    /// closed nor already approved or attested: the state in which approvals and materials are taken.
    function _requireAwaitingCondition(
        uint64 planId,
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.InstalmentRef calldata ref,
        uint8 rule
    ) private view returns (DaifaTypes.PlanState storage plan) {
        plan = _requireInstalment(planId, params, ref);
        if (ref.instalment.rule != rule) revert Registry_WrongReleaseRule(planId, ref.index, ref.instalment.rule);
        uint8 status = _requireOpen(plan, planId, ref.index);
        if (status & DaifaTypes.CONDITION_MET != 0) revert Registry_ConditionAlreadyMet(planId, ref.index);
    }

    /// @dev Reverts if instalment `index` of `plan` (plan `planId`) is closed; returns its status.
    function _requireOpen(DaifaTypes.PlanState storage plan, uint64 planId, uint16 index)
        internal
        view
        returns (uint8 status)
    {
        status = plan.get(index);
        if (status & DaifaTypes.CLOSED != 0) revert Registry_InstalmentClosed(planId, index);
    }

    function _setPaused(bool pause) internal {
        if (_counters.paused == pause) {
            if (pause) revert EnforcedPause();
            revert ExpectedPause();
        }
        _counters.paused = pause;
        if (pause) emit Paused(msg.sender);
        else emit Unpaused(msg.sender);
    }

    function _revertWith(bytes memory failure) internal pure {
        assembly ("memory-safe") {
            revert(add(failure, 0x20), mload(failure))
        }
    }
}
