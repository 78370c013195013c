// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IEscrow} from "./interfaces/IEscrow.sol";
import {DaifaTypes} from "./libraries/DaifaTypes.sol";
import {InstalmentStatus} from "./libraries/InstalmentStatus.sol";
import {PlanHashing} from "./libraries/PlanHashing.sol";
import {PlanRegistry} from "./PlanRegistry.sol";

/// @title DaifaEscrow
/// @notice The plan registry and the escrow of its plans' funds, in one immutable contract (no proxy).
/// Funds leave only to a plan's payee, its payer, or the fee recipient both signed; the operator can
/// approve parties, attest materials and pause new business, never move money.
contract DaifaEscrow is IEscrow, PlanRegistry, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using InstalmentStatus for DaifaTypes.PlanState;

    /*//////////////////////////////////////////////////////////////
                                STORAGE
    //////////////////////////////////////////////////////////////*/

    /// @dev Payments whose push transfer failed, owed to the account until it withdraws them.
    mapping(address token => mapping(address account => uint256 amount)) private _credits;

    /*//////////////////////////////////////////////////////////////
                              CONSTRUCTOR
    //////////////////////////////////////////////////////////////*/

    constructor(address initialOperator) PlanRegistry(initialOperator) {}

    /*//////////////////////////////////////////////////////////////
                                FUNDING
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IEscrow
    function deposit(uint64 planId, DaifaTypes.PlanParams calldata params, DaifaTypes.InstalmentRef[] calldata refs)
        external
        nonReentrant
        whenNotPaused
    {
        uint256 total = _fundInstalments(planId, params, refs);
        _pull(params.token, msg.sender, total);
    }

    /// @inheritdoc IEscrow
    function depositInstalments(
        uint64 planId,
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.Instalment[] calldata instalments,
        uint16[] calldata indices
    ) external nonReentrant whenNotPaused {
        // Checks: the whole list rebuilds the plan's commitment, so each instalment is the recorded one.
        if (indices.length == 0) revert Escrow_NoInstalments();
        _requireNotExpired(planId, params);
        (DaifaTypes.PlanState storage plan,,) = _requireTerms(planId, params, instalments);

        // Effects
        uint256 total = 0;
        for (uint256 i; i < indices.length; ++i) {
            uint16 index = indices[i];
            if (index >= instalments.length) revert Registry_InstalmentNotInPlan(planId, index);
            total += _fund(plan, planId, index, instalments[index].amount);
        }

        // Interactions
        _pull(params.token, msg.sender, total);
    }

    /// @inheritdoc IEscrow
    function recordPlanAndDeposit(
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.Instalment[] calldata instalments,
        DaifaTypes.JointAuthorization calldata auth
    ) external nonReentrant whenNotPaused returns (uint64 planId) {
        uint256 total;
        (planId, total) = _recordFundedPlan(params, instalments, auth);
        _pull(params.token, msg.sender, total);
    }

    /// @inheritdoc IEscrow
    function recordPlansAndDeposit(DaifaTypes.NewPlan[] calldata plans)
        external
        nonReentrant
        whenNotPaused
        returns (uint64 firstPlanId)
    {
        // Checks and effects, per plan
        if (plans.length == 0) revert Registry_NoPlans();
        address token = plans[0].params.token;
        uint256 total = 0;
        for (uint256 i; i < plans.length; ++i) {
            DaifaTypes.NewPlan calldata p = plans[i];
            if (p.params.token != token) revert Escrow_MixedTokens(token, p.params.token);
            (uint64 planId, uint256 planTotal) = _recordFundedPlan(p.params, p.instalments, p.auth);
            if (i == 0) firstPlanId = planId;
            total += planTotal;
        }

        // Interactions: one transfer for the whole batch
        _pull(token, msg.sender, total);
    }

    /// @inheritdoc IEscrow
    function depositWithPermit(
        uint64 planId,
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.InstalmentRef[] calldata refs,
        DaifaTypes.Permit calldata permit,
        DaifaTypes.PartySignature calldata payerSig
    ) external nonReentrant whenNotPaused {
        // Checks: the payer authorised exactly these instalments, so no one can use its allowance for others.
        address payer = params.payer;
        bytes32 structHash = PlanHashing.hashDepositAuthorization(
            planId, PlanHashing.hashIndices(refs), payerSig.nonce, payerSig.deadline
        );
        _requirePartyConsent(payer, structHash, payerSig);

        // Effects
        uint256 total = _fundInstalments(planId, params, refs);

        // Interactions. A permit someone else already submitted fails here; the pull still checks the allowance.
        try IERC20Permit(params.token).permit(
            payer, address(this), permit.value, permit.deadline, permit.v, permit.r, permit.s
        ) {} catch {}
        _pull(params.token, payer, total);
    }

    /*//////////////////////////////////////////////////////////////
                                RELEASE
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IEscrow
    function release(uint64 planId, DaifaTypes.PlanParams calldata params, DaifaTypes.InstalmentRef calldata ref)
        external
        nonReentrant
    {
        (DaifaTypes.PlanState storage plan, bytes memory failure) = _releaseFailure(planId, params, ref);
        if (failure.length != 0) _revertWith(failure);
        _release(plan, planId, params, ref);
    }

    /// @inheritdoc IEscrow
    function releaseBatch(DaifaTypes.ReleaseItem[] calldata items) external nonReentrant returns (uint256 released) {
        for (uint256 i; i < items.length; ++i) {
            DaifaTypes.ReleaseItem calldata item = items[i];
            (DaifaTypes.PlanState storage plan, bytes memory failure) =
                _releaseFailure(item.planId, item.params, item.ref);
            if (failure.length != 0) {
                emit ReleaseSkipped(item.planId, item.ref.index, failure);
                continue;
            }
            _release(plan, item.planId, item.params, item.ref);
            ++released;
        }
    }

    /*//////////////////////////////////////////////////////////////
                      DISPUTES, CANCELLATIONS, REFUNDS
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IEscrow
    function resolveDispute(
        uint64 planId,
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.InstalmentRef calldata ref,
        uint128 toPayee
    ) external nonReentrant {
        // Checks
        DaifaTypes.PlanState storage plan = _requireInstalment(planId, params, ref);
        if (msg.sender != params.arbiter) revert Escrow_NotArbiter(planId, msg.sender);
        uint8 status = _requireOpen(plan, planId, ref.index);
        if (status & DaifaTypes.DISPUTED == 0) revert Escrow_InstalmentNotDisputed(planId, ref.index);
        uint128 funded = status & DaifaTypes.FUNDED != 0 ? ref.instalment.amount : 0;
        if (toPayee > funded) revert Escrow_SplitExceedsFunds(planId, ref.index, toPayee, funded);

        // Effects
        plan.set(ref.index, DaifaTypes.CLOSED);
        uint128 toPayer = funded - toPayee;
        emit DisputeResolved(planId, ref.index, toPayee, toPayer);

        // Interactions
        _pay(params.token, params.payee, toPayee);
        _pay(params.token, params.payer, toPayer);
    }

    /// @inheritdoc IEscrow
    function cancelInstalments(
        uint64 planId,
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.InstalmentRef[] calldata refs,
        DaifaTypes.JointAuthorization calldata auth
    ) external nonReentrant {
        // Checks
        if (refs.length == 0) revert Escrow_NoInstalments();
        bytes32 structHash = PlanHashing.hashCancellation(
            planId, PlanHashing.hashIndices(refs), auth.payerNonce, auth.payeeNonce, auth.deadline
        );
        _requireJointConsent(structHash, params.payer, params.payee, auth);

        // Effects
        uint256 cancelled = 0;
        uint256 refund = 0;
        for (uint256 i; i < refs.length; ++i) {
            DaifaTypes.InstalmentRef calldata ref = refs[i];
            DaifaTypes.PlanState storage plan = _requireInstalment(planId, params, ref);
            uint8 status = _requireOpen(plan, planId, ref.index);
            plan.set(ref.index, DaifaTypes.CLOSED);
            uint128 refunded = status & DaifaTypes.FUNDED != 0 ? ref.instalment.amount : 0;
            emit InstalmentCancelled(planId, ref.index, refunded);
            cancelled += ref.instalment.amount;
            refund += refunded;
        }
        _releaseCommitment(params, cancelled);

        // Interactions
        _pay(params.token, params.payer, refund);
    }

    /// @inheritdoc IEscrow
    function refundExpired(
        uint64 planId,
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.InstalmentRef[] calldata refs
    ) external nonReentrant {
        // Checks and effects, per instalment
        if (refs.length == 0) revert Escrow_NoInstalments();
        // slither-disable-next-line timestamp (expiry is set in days; a validator's seconds of clock drift cannot move a refund)
        if (block.timestamp <= params.expiry) revert Escrow_PlanNotExpired(planId, params.expiry, block.timestamp);
        uint256 refund = 0;
        for (uint256 i; i < refs.length; ++i) {
            DaifaTypes.InstalmentRef calldata ref = refs[i];
            DaifaTypes.PlanState storage plan = _requireInstalment(planId, params, ref);
            uint8 status = _requireOpen(plan, planId, ref.index);
            if (status & DaifaTypes.FUNDED == 0) revert Escrow_InstalmentNotFunded(planId, ref.index);
            if (status & DaifaTypes.DISPUTED != 0) revert Escrow_InstalmentDisputed(planId, ref.index);
            // A TIME instalment fell due before expiry (recording checks releaseAt <= expiry): release it.
            if (ref.instalment.rule == DaifaTypes.RULE_TIME || status & DaifaTypes.CONDITION_MET != 0) {
                revert Escrow_ReleaseConditionMet(planId, ref.index);
            }
            plan.set(ref.index, DaifaTypes.CLOSED);
            emit Refunded(planId, ref.index, params.payer, ref.instalment.amount);
            refund += ref.instalment.amount;
        }

        // Interactions
        _pay(params.token, params.payer, refund);
    }

    /// @inheritdoc IEscrow
    function withdraw(address token, address to) external nonReentrant returns (uint256 amount) {
        if (to == address(0)) revert Escrow_ZeroRecipient();
        amount = _credits[token][msg.sender];
        if (amount == 0) revert Escrow_NothingToWithdraw(token, msg.sender);
        _credits[token][msg.sender] = 0;
        emit Withdrawn(token, msg.sender, to, amount);
        IERC20(token).safeTransfer(to, amount);
    }

    /*//////////////////////////////////////////////////////////////
                                OPERATOR
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IEscrow
    function pause() external onlyOwner {
        _setPaused(true);
    }

    /// @inheritdoc IEscrow
    function unpause() external onlyOwner {
        _setPaused(false);
    }

    /*//////////////////////////////////////////////////////////////
                                 VIEWS
    //////////////////////////////////////////////////////////////*/

    /// @inheritdoc IEscrow
    function credit(address token, address account) external view returns (uint256) {
        return _credits[token][account];
    }

    /*//////////////////////////////////////////////////////////////
                                INTERNAL
    //////////////////////////////////////////////////////////////*/

    /// @dev Checks that each instalment belongs to the plan and is open and unfunded, marks it funded, and
    /// returns the total to pull.
    function _fundInstalments(
        uint64 planId,
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.InstalmentRef[] calldata refs
    ) private returns (uint256 total) {
        if (refs.length == 0) revert Escrow_NoInstalments();
        _requireNotExpired(planId, params);
        total = 0;
        for (uint256 i = 0; i < refs.length; ++i) {
            DaifaTypes.InstalmentRef calldata ref = refs[i];
            DaifaTypes.PlanState storage plan = _requireInstalment(planId, params, ref);
            total += _fund(plan, planId, ref.index, ref.instalment.amount);
        }
    }

    /// @dev Marks instalment `index` funded if it is open and unfunded; returns its amount.
    function _fund(DaifaTypes.PlanState storage plan, uint64 planId, uint16 index, uint128 amount)
        private
        returns (uint256)
    {
        uint8 previous = plan.getAndSet(index, DaifaTypes.FUNDED);
        if (previous & DaifaTypes.CLOSED != 0) revert Registry_InstalmentClosed(planId, index);
        if (previous & DaifaTypes.FUNDED != 0) revert Escrow_InstalmentAlreadyFunded(planId, index);
        emit Deposited(planId, index, amount);
        return amount;
    }

    /// @dev Records a plan with every instalment funded and tells each {Deposited}; returns its id and the
    /// total the caller must pull in the same call.
    function _recordFundedPlan(
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.Instalment[] calldata instalments,
        DaifaTypes.JointAuthorization calldata auth
    ) private returns (uint64 planId, uint256 total) {
        (planId, total) = _recordPlan(params, instalments, auth, DaifaTypes.FUNDED);
        for (uint256 i; i < instalments.length; ++i) {
            emit Deposited(planId, uint16(i), instalments[i].amount);
        }
    }

    function _requireNotExpired(uint64 planId, DaifaTypes.PlanParams calldata params) private view {
        // slither-disable-next-line timestamp (expiry is set in days; seconds of drift cannot open or close funding)
        if (block.timestamp > params.expiry) revert Escrow_PlanExpired(planId, params.expiry, block.timestamp);
    }

    /// @dev Pulls `total` of `token` from `from` and measures what arrived, so fee-on-transfer and
    /// short-paying tokens are refused. `from` is the sender, or the payer that signed the deposit.
    function _pull(address token, address from, uint256 total) private {
        uint256 before = _balanceOfSelf(token);
        // slither-disable-next-line arbitrary-send-erc20 (the sender itself, or the payer's signed authorisation)
        IERC20(token).safeTransferFrom(from, address(this), total);
        uint256 received = _balanceOfSelf(token) - before;
        if (received != total) revert Escrow_TransferShortfall(token, total, received);
    }

    /// @dev `IERC20(token).balanceOf(address(this))` in scratch space: deposits call it twice on their hot path.
    function _balanceOfSelf(address token) private view returns (uint256 amount) {
        assembly ("memory-safe") {
            mstore(0x00, 0x70a08231) // balanceOf(address)
            mstore(0x20, address())
            // Arguments are evaluated right to left: the call runs before returndatasize is read.
            if iszero(and(gt(returndatasize(), 0x1f), staticcall(gas(), token, 0x1c, 0x24, 0x00, 0x20))) {
                returndatacopy(0x00, 0x00, returndatasize())
                revert(0x00, returndatasize())
            }
            amount := mload(0x00)
        }
    }

    /// @dev Why the instalment cannot be released now, as an encoded custom error; empty if it can. The
    /// plan's state comes back with it for {_release}.
    function _releaseFailure(
        uint64 planId,
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.InstalmentRef calldata ref
    ) private view returns (DaifaTypes.PlanState storage plan, bytes memory) {
        bytes memory failure;
        (plan, failure) = _instalmentFailure(planId, params, ref);
        if (failure.length != 0) return (plan, failure);
        uint16 index = ref.index;
        uint8 status = plan.get(index);
        if (status & DaifaTypes.CLOSED != 0) {
            return (plan, abi.encodeWithSelector(Registry_InstalmentClosed.selector, planId, index));
        }
        if (status & DaifaTypes.FUNDED == 0) {
            return (plan, abi.encodeWithSelector(Escrow_InstalmentNotFunded.selector, planId, index));
        }
        if (status & DaifaTypes.DISPUTED != 0) {
            return (plan, abi.encodeWithSelector(Escrow_InstalmentDisputed.selector, planId, index));
        }
        uint8 rule = ref.instalment.rule;
        if (rule == DaifaTypes.RULE_TIME) {
            uint40 releaseAt = ref.instalment.releaseAt;
            // slither-disable-next-line timestamp (pay dates are days apart; drift shifts a release by seconds)
            if (block.timestamp < releaseAt) {
                return (
                    plan,
                    abi.encodeWithSelector(Escrow_InstalmentNotDue.selector, planId, index, releaseAt, block.timestamp)
                );
            }
        } else if (status & DaifaTypes.CONDITION_MET == 0) {
            return (
                plan,
                rule == DaifaTypes.RULE_PAYER_APPROVAL
                    ? abi.encodeWithSelector(Escrow_PayerApprovalMissing.selector, planId, index)
                    : abi.encodeWithSelector(Escrow_MaterialsNotAttested.selector, planId, index)
            );
        } else if (rule == DaifaTypes.RULE_MATERIALS) {
            uint256 reviewEndsAt = uint256(plan.materials[index].attestedAt) + params.reviewWindow;
            // slither-disable-next-line timestamp (review windows last days; seconds of drift are immaterial)
            if (block.timestamp < reviewEndsAt) {
                return (
                    plan,
                    abi.encodeWithSelector(Escrow_ReviewWindowOpen.selector, planId, index, reviewEndsAt, block.timestamp)
                );
            }
        }
        return (plan, "");
    }

    function _release(
        DaifaTypes.PlanState storage plan,
        uint64 planId,
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.InstalmentRef calldata ref
    ) private {
        // Effects
        plan.set(ref.index, DaifaTypes.CLOSED);
        uint128 amount = ref.instalment.amount;
        uint256 fee = uint256(amount) * params.feeBps / 10_000;
        if (fee > params.feeCap) fee = params.feeCap;
        uint128 toPayee = amount - uint128(fee);
        emit Released(planId, ref.index, toPayee, uint128(fee));

        // Interactions
        _pay(params.token, params.payee, toPayee);
        _pay(params.token, params.feeRecipient, fee);
    }

    /// @dev Pushes `amount` to `to`; if the token refuses (a blocked account, say), credits it instead so
    /// nothing gets stuck and nothing else is held up.
    function _pay(address token, address to, uint256 amount) private {
        if (amount == 0) return;
        if (!IERC20(token).trySafeTransfer(to, amount)) {
            _credits[token][to] += amount;
            emit PaymentDeferred(token, to, amount);
        }
    }
}
