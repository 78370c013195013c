// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {DaifaTypes} from "./DaifaTypes.sol";

/// @title InstalmentStatus
/// @notice Where a plan keeps its terms' commitment and its instalments' four-bit statuses.
/// @dev A plan's head word holds a 192-bit commitment to its terms in the high bits and the statuses of
/// instalments 0-15 in the low 64 bits, so recording a plan of up to 16 instalments writes one slot and
/// acting on one of them reads one. Later instalments take 63 statuses per further word, whose bit 255
/// marks it as written at recording so that every status change is a cheap store. Status bits (see
/// {DaifaTypes}) are only ever set, never cleared, so statuses only move forward.
library InstalmentStatus {
    uint256 internal constant HEAD_STATUSES = 16;
    uint256 internal constant HEAD_STATUS_MASK = type(uint64).max;
    uint256 internal constant STATUSES_PER_WORD = 63;
    uint256 internal constant WORD_MARKER = 1 << 255;
    uint256 private constant NIBBLE_ONES = 0x1111111111111111111111111111111111111111111111111111111111111111;

    /// @dev The status of instalment `index`.
    function get(DaifaTypes.PlanState storage plan, uint256 index) internal view returns (uint8) {
        if (index < HEAD_STATUSES) return uint8(plan.head >> (index * 4)) & 0xf;
        (uint256 word, uint256 shift) = _overflowLocation(index);
        return uint8(plan.statusWords[word] >> shift) & 0xf;
    }

    /// @dev Sets status bits on a status the caller already checked.
    function set(DaifaTypes.PlanState storage plan, uint256 index, uint8 bits) internal {
        getAndSet(plan, index, bits);
    }

    /// @dev Sets status bits and returns the status before. One read and one write: the caller checks the
    /// previous status and reverts if the move was wrong.
    function getAndSet(DaifaTypes.PlanState storage plan, uint256 index, uint8 bits)
        internal
        returns (uint8 previous)
    {
        uint256 shift;
        uint256 word;
        if (index < HEAD_STATUSES) {
            shift = index * 4;
            word = plan.head;
            plan.head = word | (uint256(bits) << shift);
        } else {
            uint256 slot;
            (slot, shift) = _overflowLocation(index);
            mapping(uint256 => uint256) storage words = plan.statusWords;
            word = words[slot];
            words[slot] = word | (uint256(bits) << shift);
        }
        return uint8(word >> shift) & 0xf;
    }

    /// @dev Marks the further status words that instalments [from, to) need and [0, from) did not, with
    /// `bits` set on the statuses they hold (all of them in [from, to): a new word starts past `from`).
    function allocate(DaifaTypes.PlanState storage plan, uint256 from, uint256 to, uint8 bits) internal {
        if (to <= HEAD_STATUSES) return;
        uint256 first = from <= HEAD_STATUSES ? 0 : 1 + (from - HEAD_STATUSES - 1) / STATUSES_PER_WORD;
        uint256 last = (to - HEAD_STATUSES - 1) / STATUSES_PER_WORD;
        for (uint256 w = first; w <= last; ++w) {
            uint256 held = to - HEAD_STATUSES - w * STATUSES_PER_WORD;
            plan.statusWords[w] = WORD_MARKER | repeat(bits, held < STATUSES_PER_WORD ? held : STATUSES_PER_WORD);
        }
    }

    /// @dev The head's statuses for a plan of `count` instalments recorded with `bits` set on each.
    function headStatuses(uint256 count, uint8 bits) internal pure returns (uint256) {
        if (bits == 0) return 0;
        return repeat(bits, count < HEAD_STATUSES ? count : HEAD_STATUSES);
    }

    /// @dev `bits` in each of the `count` (at most 63) lowest four-bit statuses: the mask keeps a 1 in the
    /// lowest bit of each of them.
    function repeat(uint8 bits, uint256 count) internal pure returns (uint256) {
        return uint256(bits) * (NIBBLE_ONES >> (256 - count * 4));
    }

    /// @dev The high 192 bits of `termsHash`. A 192-bit commitment leaves 2^96 work for a collision and
    /// 2^192 for a second preimage: stronger than the 160-bit hash every Ethereum address relies on.
    function commitment(bytes32 termsHash) internal pure returns (uint256) {
        return uint256(termsHash) & ~HEAD_STATUS_MASK;
    }

    /// @dev Whether a head word commits to `termsHash`.
    function commitsTo(uint256 head, bytes32 termsHash) internal pure returns (bool) {
        return head & ~HEAD_STATUS_MASK == commitment(termsHash);
    }

    /// @dev The head word with its commitment replaced by one to `termsHash` and its statuses kept.
    function recommit(uint256 head, bytes32 termsHash) internal pure returns (uint256) {
        return (head & HEAD_STATUS_MASK) | commitment(termsHash);
    }

    /// @dev Where the status of instalment `index` (16 or more) lives in the further status words.
    function _overflowLocation(uint256 index) private pure returns (uint256 word, uint256 shift) {
        index -= HEAD_STATUSES;
        return (index / STATUSES_PER_WORD, (index % STATUSES_PER_WORD) * 4);
    }
}
