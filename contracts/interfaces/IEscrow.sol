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

    error Escrow_NoInstalments();
    error Escrow_InstalmentAlreadyFunded(uint64 planId, uint16 index);
    error Escrow_InstalmentNotFunded(uint64 planId, uint16 index);
    error Escrow_InstalmentDisputed(uint64 planId, uint16 index);
    error Escrow_InstalmentNotDisputed(uint64 planId, uint16 index);
    error Escrow_InstalmentNotDue(uint64 planId, uint16 index, uint40 releaseAt, uint256 now);
    error Escrow_PayerApprovalMissing(uint64 planId, uint16 index);
    error Escrow_MaterialsNotAttested(uint64 planId, uint16 index);
    error Escrow_ReviewWindowOpen(uint64 planId, uint16 index, uint256 reviewEndsAt, uint256 now);
    error Escrow_PlanExpired(uint64 planId, uint40 expiry, uint256 now);
    error Escrow_PlanNotExpired(uint64 planId, uint40 expiry, uint256 now);
    error Escrow_ReleaseConditionMet(uint64 planId, uint16 index);
    error Escrow_NotArbiter(uint64 planId, address account);
    error Escrow_SplitExceedsFunds(uint64 planId, uint16 index, uint128 toPayee, uint128 funded);
    error Escrow_TransferShortfall(address token, uint256 expected, uint256 received);
    error Escrow_NothingToWithdraw(address token, address account);
    error Escrow_ZeroRecipient();

    /*//////////////////////////////////////////////////////////////
                                FUNDING
    //////////////////////////////////////////////////////////////*/

    /// @notice Funds instalments in full from the sender's tokens: anyone may fund for the payer.
    /// @dev Requirements: not paused; the plan has not expired; each instalment belongs to the plan, is not
    /// funded and not closed. The escrow's balance must rise by exactly the total: fee-on-transfer and
    /// short-paying tokens are refused.
    function deposit(uint64 planId, DaifaTypes.PlanParams calldata params, DaifaTypes.InstalmentRef[] calldata refs)
        external;

    /// @notice Like {deposit}, paid from the payer's tokens with its EIP-2612 permit, relayed by anyone.
    /// @dev Requirements: as {deposit}, and the payer's EIP-712 `DepositAuthorization` over the plan and
    /// exactly these instalments (or the payer sends it), so a relayer cannot spend the payer's allowance
    /// on other instalments. A permit already used (front-run) is ignored when the allowance is there anyway.
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
    function release(uint64 planId, DaifaTypes.PlanParams calldata params, DaifaTypes.InstalmentRef calldata ref)
        external;

    /// @notice One release per item, across plans. An item that cannot be released is skipped with a
    /// {ReleaseSkipped} event carrying the reason; the others go through.
    /// @return released How many items were released.
    function releaseBatch(ReleaseItem[] calldata items) external returns (uint256 released);

    /// @notice One item of {releaseBatch}.
    struct ReleaseItem {
        uint64 planId;
        DaifaTypes.PlanParams params;
        DaifaTypes.InstalmentRef ref;
    }

    /*//////////////////////////////////////////////////////////////
                      DISPUTES, CANCELLATIONS, REFUNDS
    //////////////////////////////////////////////////////////////*/

    /// @notice The plan's arbiter splits a disputed instalment: `toPayee` to the payee, the rest of what was
    /// funded back to the payer. Works while paused.
    function resolveDispute(
        uint64 planId,
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.InstalmentRef calldata ref,
        uint128 toPayee
    ) external;

    /// @notice Cancels instalments not yet closed with both parties' consent; funded ones refund to the payer.
    /// The agreement set's limit regains their amounts. Works while paused.
    function cancelInstalments(
        uint64 planId,
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.InstalmentRef[] calldata refs,
        DaifaTypes.JointAuthorization calldata auth
    ) external;

    /// @notice After the plan's expiry, refunds funded instalments whose release condition never became
    /// true (not approved, not attested) and that are not disputed. Anyone may call; works while paused.
    function refundExpired(
        uint64 planId,
        DaifaTypes.PlanParams calldata params,
        DaifaTypes.InstalmentRef[] calldata refs
    ) external;

    /// @notice Sends the sender's credited `token` (payments whose push failed) to `to`, an address of its choice.
    function withdraw(address token, address to) external returns (uint256 amount);

    /*//////////////////////////////////////////////////////////////
                                OPERATOR
    //////////////////////////////////////////////////////////////*/

    /// @notice Stops new agreement sets, plans, amendments and deposits. Releases, disputes, resolutions,
    /// cancellations, refunds and withdrawals go on.
    function pause() external;

    function unpause() external;

    /*//////////////////////////////////////////////////////////////
                                 VIEWS
    //////////////////////////////////////////////////////////////*/

    /// @notice What `account` can {withdraw} of `token`.
    function credit(address token, address account) external view returns (uint256);
}
