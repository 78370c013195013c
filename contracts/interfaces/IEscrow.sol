// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {DaifaTypes} from "../libraries/DaifaTypes.sol";
import {IPlanRegistry} from "./IPlanRegistry.sol";

/// @title IEscrow
/// @notice Holds the payer's deposits for recorded plans. Funds leave only to the plan's payee (release,
/// less the fee both parties signed, which goes to the signed fee recipient), back to the plan's payer
/// (refund), or as the arbiter's split between those two. No one, the operator included, can send them
/// anywhere else.
interface IEscrow is IPlanRegistry {
    /*//////////////////////////////////////////////////////////////
                                 EVENTS
    //////////////////////////////////////////////////////////////*/

    /// @notice Instalment `index` is now funded in full with `amount`.
    /// @dev Who paid is the `from` of the token's Transfer to the escrow in the same transaction.
    event Deposited(uint64 indexed planId, uint16 index, uint128 amount);
    /// @notice Instalment `index` was released: `toPayee` to the plan's payee, `fee` to its fee recipient.
    /// @dev The payee is not repeated here: it is in the plan, and the token's Transfer event indexes it.
    event Released(uint64 indexed planId, uint16 index, uint128 toPayee, uint128 fee);
    /// @notice A batch release passed over instalment `index`; `reason` is the ABI-encoded custom error.
    event ReleaseSkipped(uint64 indexed planId, uint16 index, bytes reason);
    /// @notice The arbiter resolved the dispute over instalment `index` as this split.
    event DisputeResolved(uint64 indexed planId, uint16 index, uint128 toPayee, uint128 toPayer);
    /// @notice Both parties cancelled instalment `index`; `refunded` went back to the payer.
    event InstalmentCancelled(uint64 indexed planId, uint16 index, uint128 refunded);
    /// @notice Instalment `index` expired unreleased and `amount` went back to the payer.
    event Refunded(uint64 indexed planId, uint16 index, address indexed payer, uint128 amount);
    /// @notice A transfer to `account` failed, so `amount` is credited to it to {withdraw} later.
    event PaymentDeferred(address indexed token, address indexed account, uint256 amount);
    /// @notice `account` withdrew its credited `amount` to `to`.
    event Withdrawn(address indexed token, address indexed account, address to, uint256 amount);

    /*//////////////////////////////////////////////////////////////
                                 ERRORS
    //////////////////////////////////////////////////////////////*/

    /// @notice Thrown when a call that acts on instalments is given none.
    error Escrow_NoInstalments();
    /// @notice Thrown when instalment `index` is already funded.
    error Escrow_InstalmentAlreadyFunded(uint64 planId, uint16 index);
    /// @notice Thrown when instalment `index` is not funded (so it cannot be released or refunded).
    error Escrow_InstalmentNotFunded(uint64 planId, uint16 index);
    /// @notice Thrown when instalment `index` is disputed: only the arbiter's split moves it.
    error Escrow_InstalmentDisputed(uint64 planId, uint16 index);
    /// @notice Thrown when the arbiter resolves instalment `index`, which is not disputed.
    error Escrow_InstalmentNotDisputed(uint64 planId, uint16 index);
    /// @notice Thrown when TIME instalment `index` is released before `releaseAt`.
    error Escrow_InstalmentNotDue(uint64 planId, uint16 index, uint40 releaseAt, uint256 now);
    /// @notice Thrown when PAYER_APPROVAL instalment `index` is released before the payer approved it.
    error Escrow_PayerApprovalMissing(uint64 planId, uint16 index);
    /// @notice Thrown when MATERIALS instalment `index` is released before the operator attested its materials.
    error Escrow_MaterialsNotAttested(uint64 planId, uint16 index);
    /// @notice Thrown when MATERIALS instalment `index` is released before the payer's review window ends.
    error Escrow_ReviewWindowOpen(uint64 planId, uint16 index, uint256 reviewEndsAt, uint256 now);
    /// @notice Thrown when a deposit comes after the plan's `expiry`.
    error Escrow_PlanExpired(uint64 planId, uint40 expiry, uint256 now);
    /// @notice Thrown when a refund is asked for before the plan's `expiry`.
    error Escrow_PlanNotExpired(uint64 planId, uint40 expiry, uint256 now);
    /// @notice Thrown when a refund is asked for instalment `index`, whose release condition became true.
    error Escrow_ReleaseConditionMet(uint64 planId, uint16 index);
    /// @notice Thrown when `account`, not the plan's arbiter, resolves a dispute.
    error Escrow_NotArbiter(uint64 planId, address account);
    /// @notice Thrown when the arbiter awards the payee more than was `funded`.
    error Escrow_SplitExceedsFunds(uint64 planId, uint16 index, uint128 toPayee, uint128 funded);
    /// @notice Thrown when the escrow received less of `token` than it pulled (a fee-on-transfer token).
    error Escrow_TransferShortfall(address token, uint256 expected, uint256 received);
    /// @notice Thrown when `account` has no credit of `token` to withdraw.
    error Escrow_NothingToWithdraw(address token, address account);
    /// @notice Thrown when a batch recorded and funded in one call names more than one token.
    error Escrow_MixedTokens(address token, address other);
    /// @notice Thrown when a withdrawal names the zero address as recipient.
    error Escrow_ZeroRecipient();

    /*//////////////////////////////////////////////////////////////
                                FUNDING
    //////////////////////////////////////////////////////////////*/

    /// @notice Funds instalments in full from the sender's tokens: anyone may fund for the payer.
    /// @dev Requirements: not paused; the plan has not expired; each instalment belongs to the plan, is not
    /// funded and not closed. The escrow's balance must rise by exactly the total: fee-on-transfer and
    /// short-paying tokens are refused.
    /// @param planId The recorded plan.
    /// @param params The plan's params, as recorded (checked against its commitment).
    /// @param refs The instalments to fund, each with its Merkle proof.
    function deposit(uint64 planId, DaifaTypes.PlanParams calldata params, DaifaTypes.InstalmentRef[] calldata refs)
        external;

    /// @notice Like {deposit}, given all of the plan's instalments instead of one Merkle proof per funded
    /// instalment: cheaper when a deposit funds several.
    /// @dev Requirements: as {deposit}; `instalments` are the plan's recorded instalments, all of them in
    /// order (they rebuild its commitment); each index is below their count.
    /// @param planId The recorded plan.
    /// @param params The plan's params, as recorded.
    /// @param instalments All of the plan's instalments, as recorded.
    /// @param indices The instalments to fund.
    function depositInstalments(
        uint64 planId,
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.Instalment[] calldata instalments,
        uint16[] calldata indices
    ) external;

    /// @notice Records a plan both parties signed and funds all its instalments from the sender's tokens, in
    /// one transaction: {IPlanRegistry.recordPlan} and a {deposit} of every instalment.
    /// @dev Requirements: as {IPlanRegistry.recordPlan}, and the escrow's balance must rise by exactly the
    /// plan's total. Emits {IPlanRegistry.PlanRecorded}, then {Deposited} for each instalment.
    /// @param params Everything but the instalments.
    /// @param instalments The instalments, in order.
    /// @param auth The parties' consent over the plan.
    /// @return planId The plan's id.
    function recordPlanAndDeposit(
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.Instalment[] calldata instalments,
        DaifaTypes.JointAuthorization calldata auth
    ) external returns (uint64 planId);

    /// @notice {recordPlanAndDeposit} for several plans in one token, with one transfer for all: a payroll
    /// run recorded and funded at once. All or none.
    /// @dev Requirements: at least one plan; every plan in the same token; each as {recordPlanAndDeposit}.
    /// @param plans The plans, each with its params, instalments and both parties' consent.
    /// @return firstPlanId The first plan's id; plan `i` of the batch is `firstPlanId + i`.
    function recordPlansAndDeposit(DaifaTypes.NewPlan[] calldata plans) external returns (uint64 firstPlanId);

    /// @notice Like {deposit}, paid from the payer's tokens with its EIP-2612 permit, relayed by anyone.
    /// @dev Requirements: as {deposit}, and the payer's EIP-712 `DepositAuthorization` over the plan and
    /// exactly these instalments (or the payer sends it), so a relayer cannot spend the payer's allowance
    /// on other instalments. A permit already used (front-run) is ignored when the allowance is there anyway.
    /// @param planId The recorded plan.
    /// @param params The plan's params, as recorded (checked against its commitment).
    /// @param refs The instalments to fund, each with its Merkle proof.
    /// @param permit The payer's EIP-2612 permit for the escrow.
    /// @param payerSig The payer's {PlanHashing.DEPOSIT_AUTHORIZATION_TYPEHASH} signature over these instalments.
    function depositWithPermit(
        uint64 planId,
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.InstalmentRef[] calldata refs,
        DaifaTypes.Permit calldata permit,
        DaifaTypes.PartySignature calldata payerSig
    ) external;

    /*//////////////////////////////////////////////////////////////
                                RELEASE
    //////////////////////////////////////////////////////////////*/

    /// @notice Pays a funded instalment whose rule allows it to the payee, less the fee. Anyone may call.
    /// @dev Reverts with the reason it cannot be released: not funded, disputed, closed, not due, not
    /// approved, not attested, review window open. Works while paused.
    /// @param planId The recorded plan.
    /// @param params The plan's params, as recorded (checked against its commitment).
    /// @param ref The instalment, its index and its Merkle proof.
    function release(uint64 planId, DaifaTypes.PlanParams calldata params, DaifaTypes.InstalmentRef calldata ref)
        external;

    /// @notice One release per item, across plans. An item that cannot be released is skipped with a
    /// {ReleaseSkipped} event carrying the reason; the others go through.
    /// @param items The instalments to release, of any plans.
    /// @return released How many items were released.
    function releaseBatch(DaifaTypes.ReleaseItem[] calldata items) external returns (uint256 released);

    /*//////////////////////////////////////////////////////////////
                      DISPUTES, CANCELLATIONS, REFUNDS
    //////////////////////////////////////////////////////////////*/

    /// @notice The plan's arbiter splits a disputed instalment: `toPayee` to the payee, the rest of what was
    /// funded back to the payer. Works while paused.
    /// @param planId The recorded plan.
    /// @param params The plan's params, as recorded (checked against its commitment).
    /// @param ref The disputed instalment, its index and its Merkle proof.
    /// @param toPayee What the payee gets; at most what was funded.
    function resolveDispute(
        uint64 planId,
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.InstalmentRef calldata ref,
        uint128 toPayee
    ) external;

    /// @notice Cancels instalments not yet closed with both parties' consent; funded ones refund to the payer.
    /// The agreement set's limit regains their amounts. Works while paused.
    /// @param planId The recorded plan.
    /// @param params The plan's params, as recorded (checked against its commitment).
    /// @param refs The instalments to cancel, each with its Merkle proof.
    /// @param auth The parties' consent over {PlanHashing.CANCELLATION_TYPEHASH}.
    function cancelInstalments(
        uint64 planId,
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.InstalmentRef[] calldata refs,
        DaifaTypes.JointAuthorization calldata auth
    ) external;

    /// @notice After the plan's expiry, refunds funded instalments whose release condition never became
    /// true (not approved, not attested) and that are not disputed. Anyone may call; works while paused.
    /// @param planId The recorded plan.
    /// @param params The plan's params, as recorded (checked against its commitment).
    /// @param refs The instalments to refund, each with its Merkle proof.
    function refundExpired(
        uint64 planId,
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.InstalmentRef[] calldata refs
    ) external;

    /// @notice Sends the sender's credited `token` (payments whose push failed) to `to`, an address of its choice.
    /// @param token The ERC-20 token credited.
    /// @param to Where to send it.
    /// @return amount What was sent: the whole credit.
    function withdraw(address token, address to) external returns (uint256 amount);

    /*//////////////////////////////////////////////////////////////
                                OPERATOR
    //////////////////////////////////////////////////////////////*/

    /// @notice Stops new agreement sets, plans, amendments and deposits. Releases, disputes, resolutions,
    /// cancellations, refunds and withdrawals go on.
    function pause() external;

    /// @notice Lifts the pause. Operator only.
    function unpause() external;

    /*//////////////////////////////////////////////////////////////
                                 VIEWS
    //////////////////////////////////////////////////////////////*/

    /// @notice What `account` can {withdraw} of `token`.
    /// @param token The ERC-20 token.
    /// @param account The account credited.
    function credit(address token, address account) external view returns (uint256);
}
