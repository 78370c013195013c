"""Everything that talks to or mirrors the contracts: artifacts, EIP-712 typed data, ABI encoding."""
