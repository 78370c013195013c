"""Reverts decoded into the contracts' custom errors, so a refused transaction says why."""

from __future__ import annotations

import ast
from functools import cache
from typing import Any

from eth_abi.abi import decode
from eth_utils.abi import function_signature_to_4byte_selector

from daifa.chain.artifacts import artifact_names, load_artifact


class Reverted(Exception):
    """A transaction or call reverted; `name` and `args` are the decoded custom error."""

    def __init__(self, name: str, args: tuple[Any, ...], data: bytes) -> None:
        super().__init__(f"{name}{args}")
        self.name = name
        self.args_ = args
        self.data = data


@cache
def _error_table() -> dict[bytes, tuple[str, list[str]]]:
    table: dict[bytes, tuple[str, list[str]]] = {
        function_signature_to_4byte_selector("Error(string)"): ("Error", ["string"]),
        function_signature_to_4byte_selector("Panic(uint256)"): ("Panic", ["uint256"]),
    }
    for name in artifact_names():
        for item in load_artifact(name)["abi"]:
            if item["type"] == "error":
                types = [_abi_type(i) for i in item["inputs"]]
                signature = f"{item['name']}({','.join(types)})"
                table[function_signature_to_4byte_selector(signature)] = (item["name"], types)
    return table


def _abi_type(item: dict[str, Any]) -> str:
    if item["type"].startswith("tuple"):
        return "(" + ",".join(_abi_type(c) for c in item["components"]) + ")" + str(item["type"][5:])
    return str(item["type"])


def decode_revert(data: bytes) -> Reverted:
    if len(data) < 4:
        return Reverted("EmptyRevert", (), data)
    entry = _error_table().get(data[:4])
    if entry is None:
        return Reverted(f"Unknown(0x{data[:4].hex()})", (), data)
    name, types = entry
    return Reverted(name, tuple(decode(types, data[4:])), data)


def revert_data(error: BaseException) -> bytes:
    """The revert data of a failed call: web3 carries it for JSON-RPC nodes; eth-tester raises
    TransactionFailed whose cause holds the raw bytes."""
    cause: BaseException | None = error
    while cause is not None:
        if cause.args and isinstance(cause.args[0], bytes):
            return cause.args[0]
        cause = cause.__cause__ or cause.__context__
    data = getattr(error, "data", None)
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, str):
        return bytes.fromhex(data.removeprefix("0x"))
    if isinstance(data, bytes):
        return data
    # eth-tester's eth_call says "execution reverted: b'...'", the bytes only in their repr.
    message = str(error.args[0]) if error.args else ""
    if message.startswith("execution reverted: b'") or message.startswith('execution reverted: b"'):
        try:
            shown = ast.literal_eval(message.removeprefix("execution reverted: "))
        except (ValueError, SyntaxError):
            return b""
        return shown if isinstance(shown, bytes) else b""
    return b""
