// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";

import {IPlanRegistry} from "./interfaces/IPlanRegistry.sol";
import {DaifaTypes} from "./libraries/DaifaTypes.sol";
import {PlanHashing} from "./libraries/PlanHashing.sol";

/// @title PlanRegistry
/// @notice Parties, agreement sets and plans both parties signed, and each instalment's status.
/// @dev Abstract: deployed as part of {DaifaEscrow}, so plan state and money are checked in one call and
/// cannot drift apart. A plan is stored as a commitment to its params and instalments' Merkle root plus
/// packed four-bit instalment statuses; calls that act on an instalment pass the params, the instalment
/// and its Merkle proof.
abstract contract PlanRegistry is IPlanRegistry, Ownable2Step, EIP712 {
    /*//////////////////////////////////////////////////////////////
                                 TYPES
    //////////////////////////////////////////////////////////////*/

    struct Party {
        uint8 roles; // slot 0
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

    struct SetParties {
        address payer;
        address payee;
    }

    /// @dev The pause flag and the id counters share a slot: recording and depositing read the flag
    /// anyway, so handing out the next id costs only the warm store.
    struct Registry {
        bool paused;
        uint64 agreementSetCount;
        uint64 planCount;
    }

    struct Materials {
        bytes32 deliveredHash;
        uint40 attestedAt;
    }

    /*//////////////////////////////////////////////////////////////
                                STORAGE
    //////////////////////////////////////////////////////////////*/

    Registry private _registry;
    mapping(address account => Party) private _parties;
    mapping(uint64 agreementSetId => SetParties) private _setParties;
    mapping(bytes32 budgetKey => Budget) private _budgets;
    mapping(uint64 agreementSetId => mapping(address token => bool)) private _allowedTokens;
    /// @dev The plan's commitment and the statuses of instalments 0-15 (see {DaifaTypes}).
    mapping(uint64 planId => uint256) private _planHeads;
    /// @dev Statuses of instalments 16 and up, 63 a word (see {DaifaTypes}).
    mapping(uint64 planId => mapping(uint256 word => uint256)) private _statusWords;
    mapping(uint64 planId => mapping(uint256 index => Materials)) private _materials;
    /// @dev Unordered nonces (as Permit2): a party may sign many plans at once and have them recorded in any order.
    mapping(address owner => mapping(uint256 word => uint256 bitmap)) private _nonceBitmaps;

    /*//////////////////////////////////////////////////////////////
                              CONSTRUCTOR
    //////////////////////////////////////////////////////////////*/

    constructor(address initialOperator) Ownable(initialOperator) EIP712("Daifa", "1") {}

    /*//////////////////////////////////////////////////////////////
                               MODIFIERS
    //////////////////////////////////////////////////////////////*/

    modifier whenNotPaused() {
        if (_registry.paused) revert EnforcedPause();
        _;
    }

    /*//////////////////////////////////////////////////////////////
                          OPERATOR: PARTIES
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IPlanRegistry
    function approveParty(address account, uint8 roles, bytes32 documentsHash) external onlyOwner {
        if (account == address(0)) revert Registry_ZeroAccount();
        if (roles == 0 || roles > (DaifaTypes.ROLE_PAYER | DaifaTypes.ROLE_PAYEE)) revert Registry_InvalidRoles(roles);
        Party storage p = _parties[account];
        p.roles = roles;
        p.documentsHash = documentsHash;
        emit PartyApproved(account, roles, documentsHash);
    }

    /// @inheritdoc IPlanRegistry
    function suspendParty(address account) external onlyOwner {
        Party storage p = _parties[account];
        if (p.roles == 0) revert Registry_PartyNotApproved(account, 0);
        p.suspended = true;
        emit PartySuspended(account);
    }

    /// @inheritdoc IPlanRegistry
    function reinstateParty(address account) external onlyOwner {
        Party storage p = _parties[account];
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
        agreementSetId = ++_registry.agreementSetCount;
        _setParties[agreementSetId] = SetParties({payer: params.payer, payee: params.payee});
        _budgets[_budgetKey(agreementSetId, params.payer, params.payee)] =
            Budget({expiry: params.expiry, limit: params.limit, committed: 0});
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
        // Checks; the agreement set's budget is taken here, and a failed check below reverts it with the rest.
        _requirePlanParams(params);
        uint256 total = _requireValidInstalments(instalments, params.expiry);
        _commitToAgreementSet(params, total, 0);
        (bytes32 arrayHash, bytes32 root) = PlanHashing.hashInstalments(instalments);
        bytes32 consentHash = PlanHashing.hashPlan(params, arrayHash, auth.payerNonce, auth.payeeNonce, auth.deadline);
        _requireJointConsent(consentHash, params.payer, params.payee, auth);

        // Effects: the nonces the signatures used are spent, so the same consent cannot record twice.
        planId = ++_registry.planCount;
        _planHeads[planId] = _commitment(PlanHashing.hashTerms(params, root));
        _initStatusWords(planId, 0, instalments.length);
        emit PlanRecorded(
            planId, params.agreementSetId, consentHash, params, PlanHashing.packInstalments(instalments), root
        );
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
        uint256 head = _planHeads[planId];
        if (head == 0) revert Registry_UnknownPlan(planId);
        bytes32 currentRoot = PlanHashing.instalmentsRoot(current);
        if (head & ~DaifaTypes.HEAD_STATUS_MASK != _commitment(PlanHashing.hashTerms(params, currentRoot))) {
            revert Registry_TermsMismatch(planId);
        }
        uint256 newTotal = _requireValidInstalments(amended, params.expiry);
        uint256 oldTotal = 0;
        for (uint256 i = 0; i < current.length; ++i) {
            oldTotal += current[i].amount;
            if (_status(planId, i) == 0 && _materials[planId][i].deliveredHash == 0) continue;
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
        _planHeads[planId] =
            (head & DaifaTypes.HEAD_STATUS_MASK) | _commitment(PlanHashing.hashTerms(params, amendedRoot));
        _initStatusWords(planId, current.length, amended.length);
        emit PlanAmended(planId, PlanHashing.packInstalments(amended), amendedRoot);
    }

    /// @inheritdoc IPlanRegistry
    function approveRelease(
        uint64 planId,
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.InstalmentRef calldata ref,
        DaifaTypes.PartySignature calldata sig
    ) external {
        _requireAwaitingCondition(planId, params, ref, DaifaTypes.RULE_PAYER_APPROVAL);
        _requirePartyConsent(
            params.payer, PlanHashing.hashPayerApproval(planId, ref.index, sig.nonce, sig.deadline), sig
        );
        _setStatus(planId, ref.index, DaifaTypes.CONDITION_MET);
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
        _requireAwaitingCondition(planId, params, ref, DaifaTypes.RULE_MATERIALS);
        _requirePartyConsent(
            params.payee,
            PlanHashing.hashMaterialsSubmission(planId, ref.index, deliveredHash, sig.nonce, sig.deadline),
            sig
        );
        _materials[planId][ref.index].deliveredHash = deliveredHash;
        emit MaterialsSubmitted(planId, ref.index, deliveredHash);
    }

    /// @inheritdoc IPlanRegistry
    function attestMaterials(
        uint64 planId,
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.InstalmentRef calldata ref,
        bytes32 deliveredHash
    ) external onlyOwner {
        _requireAwaitingCondition(planId, params, ref, DaifaTypes.RULE_MATERIALS);
        Materials storage m = _materials[planId][ref.index];
        bytes32 submitted = m.deliveredHash;
        if (submitted == 0) revert Registry_MaterialsNotSubmitted(planId, ref.index);
        if (submitted != deliveredHash) {
            revert Registry_MaterialsHashMismatch(planId, ref.index, submitted, deliveredHash);
        }
        m.attestedAt = uint40(block.timestamp);
        _setStatus(planId, ref.index, DaifaTypes.CONDITION_MET);
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
        _requireInstalment(planId, params, ref);
        if (by != params.payer && by != params.payee) revert Registry_NotPlanParty(planId, by);
        uint8 status = _requireOpen(planId, ref.index);
        if (status & DaifaTypes.DISPUTED != 0) revert Registry_AlreadyDisputed(planId, ref.index);
        _requirePartyConsent(by, PlanHashing.hashDispute(planId, ref.index, reasonHash, sig.nonce, sig.deadline), sig);
        _setStatus(planId, ref.index, DaifaTypes.DISPUTED);
        emit Disputed(planId, ref.index, by, reasonHash);
    }

    /// @inheritdoc IPlanRegistry
    function invalidateNonce(uint256 nonce) external {
        _useNonce(msg.sender, nonce);
        emit NonceInvalidated(msg.sender, nonce);
    }

    /*//////////////////////////////////////////////////////////////
                                 VIEWS
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IPlanRegistry
    function paused() public view returns (bool) {
        return _registry.paused;
    }

    /// @inheritdoc IPlanRegistry
    function operator() external view returns (address) {
        return owner();
    }

    /// @inheritdoc IPlanRegistry
    function party(address account) external view returns (uint8 roles, bool suspended, bytes32 documentsHash) {
        Party storage p = _parties[account];
        return (p.roles, p.suspended, p.documentsHash);
    }

    /// @inheritdoc IPlanRegistry
    function agreementSet(uint64 agreementSetId) external view returns (DaifaTypes.AgreementSet memory) {
        SetParties storage parties = _setParties[agreementSetId];
        Budget storage budget = _budgets[_budgetKey(agreementSetId, parties.payer, parties.payee)];
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
        return bytes24(bytes32(_planHeads[planId]));
    }

    /// @inheritdoc IPlanRegistry
    function instalmentStatus(uint64 planId, uint256 index) external view returns (uint8) {
        return _status(planId, index);
    }

    /// @inheritdoc IPlanRegistry
    function materials(uint64 planId, uint256 index) external view returns (bytes32 deliveredHash, uint40 attestedAt) {
        Materials storage m = _materials[planId][index];
        return (m.deliveredHash, m.attestedAt);
    }

    /// @inheritdoc IPlanRegistry
    function isNonceUsed(address owner, uint256 nonce) external view returns (bool) {
        return _nonceBitmaps[owner][nonce >> 8] & (1 << (nonce & 0xff)) != 0;
    }

    /// @inheritdoc IPlanRegistry
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
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
                          INTERNAL: VALIDATION
    //////////////////////////////////////////////////////////////*/

    function _requireActiveParty(address account, uint8 role) internal view {
        Party storage p = _parties[account];
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
            total += inst.amount;
        }
    }

    /// @dev Checks the plan against its agreement set and moves the set's committed total from
    /// `oldTotal` to `newTotal`.
    function _commitToAgreementSet(DaifaTypes.PlanParams calldata params, uint256 newTotal, uint256 oldTotal)
        private
    {
        uint64 setId = params.agreementSetId;
        Budget storage budget = _budgets[_budgetKey(setId, params.payer, params.payee)];
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
        Budget storage budget = _budgets[_budgetKey(params.agreementSetId, params.payer, params.payee)];
        budget.committed = uint104(uint256(budget.committed) - amount);
    }

    function _budgetKey(uint64 agreementSetId, address payer, address payee) private pure returns (bytes32) {
        return keccak256(abi.encode(agreementSetId, payer, payee));
    }

    /// @dev Reverts unless `ref` is instalment `ref.index` of the recorded plan with these `params`.
    function _requireInstalment(
        uint64 planId,
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.InstalmentRef calldata ref
    ) internal view {
        (bool known, bool inPlan) = _checkInstalment(planId, params, ref);
        if (!known) revert Registry_UnknownPlan(planId);
        if (!inPlan) revert Registry_InstalmentNotInPlan(planId, ref.index);
    }

    /// @dev As {_requireInstalment}, returning the custom error encoded instead of reverting; empty if none.
    function _instalmentFailure(
        uint64 planId,
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.InstalmentRef calldata ref
    ) internal view returns (bytes memory) {
        (bool known, bool inPlan) = _checkInstalment(planId, params, ref);
        if (!known) return abi.encodeWithSelector(Registry_UnknownPlan.selector, planId);
        if (!inPlan) return abi.encodeWithSelector(Registry_InstalmentNotInPlan.selector, planId, ref.index);
        return "";
    }

    /// @dev The proof yields the instalments' root, and the params with that root must hash to the stored
    /// commitment: so calls need not carry the root, and the leaf's index binding means no index outside
    /// the plan can be proven.
    function _checkInstalment(
        uint64 planId,
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.InstalmentRef calldata ref
    ) private view returns (bool known, bool inPlan) {
        uint256 head = _planHeads[planId];
        if (head == 0) return (false, false);
        bytes32 leaf = PlanHashing.leaf(ref.index, PlanHashing.hashInstalment(ref.instalment));
        bytes32 root = MerkleProof.processProofCalldata(ref.proof, leaf);
        return (true, head & ~DaifaTypes.HEAD_STATUS_MASK == _commitment(PlanHashing.hashTerms(params, root)));
    }

    /// @dev Reverts unless `ref` is an instalment of the plan with release rule `rule` that is neither
    /// closed nor already approved or attested: the state in which approvals and materials are taken.
    function _requireAwaitingCondition(
        uint64 planId,
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.InstalmentRef calldata ref,
        uint8 rule
    ) private view {
        _requireInstalment(planId, params, ref);
        if (ref.instalment.rule != rule) revert Registry_WrongReleaseRule(planId, ref.index, ref.instalment.rule);
        uint8 status = _requireOpen(planId, ref.index);
        if (status & DaifaTypes.CONDITION_MET != 0) revert Registry_ConditionAlreadyMet(planId, ref.index);
    }

    /// @dev Reverts if the instalment is closed; returns its status.
    function _requireOpen(uint64 planId, uint16 index) internal view returns (uint8 status) {
        status = _status(planId, index);
        if (status & DaifaTypes.CLOSED != 0) revert Registry_InstalmentClosed(planId, index);
    }

    function _setPaused(bool pause) internal {
        if (_registry.paused == pause) {
            if (pause) revert EnforcedPause();
            revert ExpectedPause();
        }
        _registry.paused = pause;
        if (pause) emit Paused(msg.sender);
        else emit Unpaused(msg.sender);
    }

    function _revertWith(bytes memory failure) internal pure {
        assembly ("memory-safe") {
            revert(add(failure, 0x20), mload(failure))
        }
    }

    /*//////////////////////////////////////////////////////////////
                        INTERNAL: INSTALMENT STATUS
    //////////////////////////////////////////////////////////////*/

    function _status(uint64 planId, uint256 index) internal view returns (uint8) {
        if (index < DaifaTypes.HEAD_STATUSES) return uint8(_planHeads[planId] >> (index * 4)) & 0xf;
        (uint256 word, uint256 shift) = _overflowLocation(index);
        return uint8(_statusWords[planId][word] >> shift) & 0xf;
    }

    function _attestedAt(uint64 planId, uint256 index) internal view returns (uint40) {
        return _materials[planId][index].attestedAt;
    }

    /// @dev Sets status bits and returns the status before; bits are never cleared, so statuses only move
    /// forward. One read and one write: callers check the previous status and revert if the move was wrong.
    function _setStatus(uint64 planId, uint256 index, uint8 bits) internal returns (uint8 previous) {
        uint256 shift;
        uint256 word;
        if (index < DaifaTypes.HEAD_STATUSES) {
            shift = index * 4;
            word = _planHeads[planId];
            _planHeads[planId] = word | (uint256(bits) << shift);
        } else {
            uint256 slot;
            (slot, shift) = _overflowLocation(index);
            mapping(uint256 => uint256) storage words = _statusWords[planId];
            word = words[slot];
            words[slot] = word | (uint256(bits) << shift);
        }
        return uint8(word >> shift) & 0xf;
    }

    /// @dev Where the status of instalment `index` (16 or more) lives in the further status words.
    function _overflowLocation(uint256 index) private pure returns (uint256 word, uint256 shift) {
        index -= DaifaTypes.HEAD_STATUSES;
        return (index / DaifaTypes.STATUSES_PER_WORD, (index % DaifaTypes.STATUSES_PER_WORD) * 4);
    }

    /// @dev The high 192 bits of `keccak256(abi.encode(params, instalmentsRoot))`. A 192-bit commitment leaves 2^96 work for a collision and
    /// 2^192 for a second preimage: stronger than the 160-bit hash every Ethereum address relies on.
    function _commitment(bytes32 termsHash) private pure returns (uint256) {
        return uint256(termsHash) & ~DaifaTypes.HEAD_STATUS_MASK;
    }

    /// @dev Marks the further status words that instalments [from, to) need and [0, from) did not.
    function _initStatusWords(uint64 planId, uint256 from, uint256 to) private {
        uint256 head = DaifaTypes.HEAD_STATUSES;
        if (to <= head) return;
        uint256 first = from <= head ? 0 : 1 + (from - head - 1) / DaifaTypes.STATUSES_PER_WORD;
        uint256 last = (to - head - 1) / DaifaTypes.STATUSES_PER_WORD;
        for (uint256 w = first; w <= last; ++w) {
            _statusWords[planId][w] = DaifaTypes.WORD_MARKER;
        }
    }

    /*//////////////////////////////////////////////////////////////
                        INTERNAL: SIGNATURES
    //////////////////////////////////////////////////////////////*/

    /// @dev Both parties consent to `structHash`: each by sending the transaction itself (empty signature)
    /// or by a valid signature with an unused nonce before the deadline.
    function _requireJointConsent(
        bytes32 structHash,
        address payer,
        address payee,
        DaifaTypes.JointAuthorization calldata auth
    ) internal {
        // slither-disable-next-line timestamp (signature deadlines are minutes to days; drift of seconds is immaterial)
        if (auth.deadline < block.timestamp) revert Registry_SignatureExpired(auth.deadline, block.timestamp);
        bytes32 digest = _hashTypedDataV4(structHash);
        _requireSigned(payer, digest, auth.payerNonce, auth.payerSignature);
        _requireSigned(payee, digest, auth.payeeNonce, auth.payeeSignature);
    }

    /// @dev One party consents to `structHash` (which already includes `sig.nonce` and `sig.deadline`).
    function _requirePartyConsent(address signer, bytes32 structHash, DaifaTypes.PartySignature calldata sig)
        internal
    {
        // slither-disable-next-line timestamp (signature deadlines are minutes to days; drift of seconds is immaterial)
        if (sig.deadline < block.timestamp) revert Registry_SignatureExpired(sig.deadline, block.timestamp);
        _requireSigned(signer, _hashTypedDataV4(structHash), sig.nonce, sig.signature);
    }

    function _requireSigned(address signer, bytes32 digest, uint256 nonce, bytes calldata signature) private {
        if (signature.length == 0) {
            if (msg.sender != signer) revert Registry_InvalidSignature(signer);
            return;
        }
        if (!_isValidSignature(signer, digest, signature)) revert Registry_InvalidSignature(signer);
        _useNonce(signer, nonce);
    }

    /// @dev ECDSA first (it rejects malleable high-s signatures), then ERC-1271 for contract wallets. Unlike
    /// OpenZeppelin's {SignatureChecker.isValidSignatureNow}, an EOA's signature needs no code-size lookup.
    function _isValidSignature(address signer, bytes32 digest, bytes calldata signature) private view returns (bool) {
        // slither-disable-next-line unused-return (the third value only details an error, which we treat as invalid)
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(digest, signature);
        if (err == ECDSA.RecoverError.NoError && recovered == signer) return true;
        return signer.code.length != 0 && SignatureChecker.isValidERC1271SignatureNowCalldata(signer, digest, signature);
    }

    function _useNonce(address owner, uint256 nonce) private {
        uint256 bit = 1 << (nonce & 0xff);
        mapping(uint256 => uint256) storage bitmaps = _nonceBitmaps[owner];
        uint256 bitmap = bitmaps[nonce >> 8];
        if (bitmap & bit != 0) revert Registry_NonceAlreadyUsed(owner, nonce);
        bitmaps[nonce >> 8] = bitmap | bit;
    }
}
