// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";

/// @title DaifaTestDollar
/// @notice A stablecoin for devnets and tests ONLY: 6 decimals like USDC, EIP-2612 permit, and a faucet
/// anyone can draw from. It has no value; production points the platform at a real token.
contract DaifaTestDollar is ERC20, ERC20Permit {
    /// @notice The most one faucet call hands out: 10 million test dollars.
    uint256 public constant FAUCET_LIMIT = 10_000_000 * 10 ** 6;

    error TestDollar_FaucetLimitExceeded(uint256 requested, uint256 limit);

    constructor() ERC20("Daifa Test Dollar (devnet only)", "tUSD") ERC20Permit("Daifa Test Dollar (devnet only)") {}

    function decimals() public pure override returns (uint8) {
        return 6;
    }

    /// @notice Mints `amount` test dollars to `to`. Devnet faucet: no access control, capped per call.
    function faucet(address to, uint256 amount) external {
        if (amount > FAUCET_LIMIT) revert TestDollar_FaucetLimitExceeded(amount, FAUCET_LIMIT);
        _mint(to, amount);
    }
}
