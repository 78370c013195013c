// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice Test token that, on transfers out of a target, calls the target with prepared calldata
/// (a second release, a withdrawal...) and reverts with what the call returned if it failed.
contract ReentrantToken is ERC20 {
    address public target;
    bytes public reentryCall;
    bool public reentryAttempted;

    constructor() ERC20("Reentrant", "REENTER") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function arm(address target_, bytes calldata call) external {
        target = target_;
        reentryCall = call;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (from == target && target != address(0) && reentryCall.length != 0) {
            bytes memory call = reentryCall;
            delete reentryCall;
            reentryAttempted = true;
            (bool ok, bytes memory result) = target.call(call);
            if (!ok) {
                assembly ("memory-safe") {
                    revert(add(result, 0x20), mload(result))
                }
            }
        }
    }
}
