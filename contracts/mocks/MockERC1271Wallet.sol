// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/// @notice Test contract wallet: a signature is valid when its owner key signed the hash and the wallet
/// is set to approve; a refusing wallet rejects everything.
contract MockERC1271Wallet is IERC1271 {
    address public immutable owner;
    bool public approves;

    constructor(address owner_, bool approves_) {
        owner = owner_;
        approves = approves_;
    }

    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecover(hash, signature);
        if (approves && err == ECDSA.RecoverError.NoError && recovered == owner) return IERC1271.isValidSignature.selector;
        return 0xffffffff;
    }

    /// @notice Lets tests send transactions as the wallet (approve a token, call the escrow).
    function execute(address target, bytes calldata data) external returns (bytes memory) {
        require(msg.sender == owner, "owner only");
        (bool ok, bytes memory result) = target.call(data);
        require(ok, "call failed");
        return result;
    }
}
