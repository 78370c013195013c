// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";

import {IConsent} from "../interfaces/IConsent.sol";
import {DaifaTypes} from "../libraries/DaifaTypes.sol";

/// @title Consent
/// @notice The parties' consent: EIP-712 digests, ECDSA and ERC-1271 signatures, and unordered nonces.
/// @dev Nonces are a bitmap per owner (as Permit2): a party may sign many messages at once and have them
/// used in any order. A party that sends the transaction itself consents without a signature or nonce.
abstract contract Consent is IConsent, EIP712 {
    mapping(address owner => mapping(uint256 word => uint256 bitmap)) private _nonceBitmaps;

    constructor() EIP712("Daifa", "1") {}

    /// @inheritdoc IConsent
    function invalidateNonce(uint256 nonce) external {
        _useNonce(msg.sender, nonce);
        emit NonceInvalidated(msg.sender, nonce);
    }

    /// @inheritdoc IConsent
    function isNonceUsed(address owner, uint256 nonce) external view returns (bool) {
        return _nonceBitmaps[owner][nonce >> 8] & (1 << (nonce & 0xff)) != 0;
    }

    /// @inheritdoc IConsent
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

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
