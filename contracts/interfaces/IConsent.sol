// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title IConsent
/// @notice How a party consents to a call: by sending it, or by an EIP-712 signature (an EOA's ECDSA or a
/// contract wallet's ERC-1271) with an unordered nonce and a deadline, relayed by anyone.
interface IConsent {
    /// @notice `owner` revoked every signature it gave with `nonce`.
    event NonceInvalidated(address indexed owner, uint256 nonce);

    /// @notice Thrown when a signature's deadline has passed.
    /// @param deadline The unix time the signer allowed.
    /// @param now The block's time.
    error Registry_SignatureExpired(uint256 deadline, uint256 now);
    /// @notice Thrown when a signature is not `signer`'s over this message (or, with none, the sender is not `signer`).
    error Registry_InvalidSignature(address signer);
    /// @notice Thrown when `signer` already used or revoked `nonce`.
    error Registry_NonceAlreadyUsed(address signer, uint256 nonce);

    /// @notice Revokes every signature the sender gave with `nonce`.
    /// @param nonce Any nonce; signatures carrying it can no longer be used.
    function invalidateNonce(uint256 nonce) external;

    /// @notice Whether `owner` used or revoked `nonce`.
    /// @param owner The signer.
    /// @param nonce The nonce.
    function isNonceUsed(address owner, uint256 nonce) external view returns (bool);

    /// @notice The EIP-712 domain separator (name "Daifa", version "1", this chain, this contract).
    function domainSeparator() external view returns (bytes32);
}
