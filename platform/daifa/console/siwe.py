"""Sign-In with Ethereum (EIP-4361): the message a party's wallet signs to open a console session.

The platform writes the message (its domain, the console's address, the chain id, a fresh nonce, when
it was issued and when it expires), the wallet signs it with `personal_sign` (EIP-191), and the platform
parses what comes back strictly and checks every field against what it would have written now. The
`siwe` package on PyPI pins web3 7 and eth-account 0.13 (the platform runs on 8 and 0.14), so the
message's grammar is here: the fields the platform writes, in the order the EIP gives them.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils.address import is_checksum_address
from eth_utils.crypto import keccak

STATEMENT = "Sign in to the Daifa console. This signature moves no money and costs no gas."
VALID_FOR = timedelta(minutes=10)  # how long a written message may be signed and posted
CLOCK_SKEW = timedelta(seconds=60)

_MESSAGE = re.compile(
    r"(?P<domain>[A-Za-z0-9.-]+(?::[0-9]{1,5})?) wants you to sign in with your Ethereum account:\n"
    r"(?P<address>0x[0-9a-fA-F]{40})\n"
    r"\n"
    r"(?P<statement>[^\n]*)\n"
    r"\n"
    r"URI: (?P<uri>[^\s]+)\n"
    r"Version: (?P<version>1)\n"
    r"Chain ID: (?P<chain_id>[0-9]{1,20})\n"
    r"Nonce: (?P<nonce>[A-Za-z0-9]{8,64})\n"
    r"Issued At: (?P<issued_at>[0-9T:.\-]+Z)\n"
    r"Expiration Time: (?P<expiration_time>[0-9T:.\-]+Z)"
)
MAX_MESSAGE = 2_048  # characters: the platform's message is a few hundred


class SignInRefused(ValueError):
    """The message or its signature is not one the platform would accept: the text says why."""


@dataclass(frozen=True)
class SignInMessage:
    domain: str
    address: str
    uri: str
    chain_id: int
    nonce: str
    issued_at: datetime
    expiration_time: datetime

    def text(self) -> str:
        return (
            f"{self.domain} wants you to sign in with your Ethereum account:\n{self.address}\n\n{STATEMENT}\n\n"
            f"URI: {self.uri}\nVersion: 1\nChain ID: {self.chain_id}\nNonce: {self.nonce}\n"
            f"Issued At: {_iso(self.issued_at)}\nExpiration Time: {_iso(self.expiration_time)}"
        )


def new_nonce() -> str:
    return secrets.token_hex(16)


def write(domain: str, address: str, uri: str, chain_id: int, nonce: str, now: datetime) -> SignInMessage:
    """The message the platform asks `address` to sign now."""
    return SignInMessage(domain, address, uri, chain_id, nonce, now, now + VALID_FOR)


def parse(text: str) -> SignInMessage:
    if len(text) > MAX_MESSAGE:
        raise SignInRefused(f"the message is over {MAX_MESSAGE} characters: sign the one the console wrote")
    match = _MESSAGE.fullmatch(text.replace("\r\n", "\n"))
    if match is None or match["statement"] != STATEMENT:
        raise SignInRefused("this is not a sign-in message the console wrote: ask for a new one and sign it unchanged")
    if not is_checksum_address(match["address"]):
        raise SignInRefused("the address in the message must be checksummed (EIP-55)")
    return SignInMessage(
        domain=match["domain"],
        address=match["address"],
        uri=match["uri"],
        chain_id=int(match["chain_id"]),
        nonce=match["nonce"],
        issued_at=_time(match["issued_at"]),
        expiration_time=_time(match["expiration_time"]),
    )


# Whether the contract wallet at an address accepts a signature of a digest (ERC-1271): EIP-4361 asks
# that a message whose address is a contract be checked so.
ContractCheck = Callable[[str, bytes, bytes], bool]


def digest(text: str) -> bytes:
    """What `personal_sign` signs (EIP-191, version 0x45): the message with its prefix and length, hashed."""
    data = text.encode()
    return keccak(b"\x19Ethereum Signed Message:\n" + str(len(data)).encode() + data)


def verify(
    text: str,
    signature: str,
    *,
    domain: str,
    uri: str,
    chain_id: int,
    nonce: str,
    now: datetime,
    contract_accepts: ContractCheck | None = None,
) -> SignInMessage:
    """The message, when it is the one the platform would write for this sign-in and its signature is
    its address's (a key's, or, for a contract wallet, one `contract_accepts`); SignInRefused saying what
    is wrong otherwise."""
    message = parse(text)
    if message.domain != domain or message.uri != uri:
        raise SignInRefused(f"the message is for {message.domain}, not for this console ({domain})")
    if message.chain_id != chain_id:
        raise SignInRefused(f"the message is for chain {message.chain_id}; this platform runs on chain {chain_id}")
    if not nonce or not secrets.compare_digest(message.nonce, nonce):
        raise SignInRefused("the message's nonce is not the one this browser was given: start the sign-in again")
    if message.issued_at > now + CLOCK_SKEW or message.expiration_time - message.issued_at > VALID_FOR:
        raise SignInRefused("the message's times are not the ones the console wrote: start the sign-in again")
    if message.expiration_time <= now:
        raise SignInRefused("the sign-in message expired: start the sign-in again")
    try:
        signer = Account.recover_message(encode_defunct(text=text), signature=signature)
    except Exception:  # eth_account raises several kinds for a malformed signature, a contract's among them
        signer = None
    if signer == message.address:
        return message
    raw = _bytes(signature)
    if contract_accepts is not None and raw is not None and contract_accepts(message.address, digest(text), raw):
        return message
    raise SignInRefused("the signature was not made by the address in the message (nor accepted by its contract)")


def _bytes(signature: str) -> bytes | None:
    try:
        return bytes.fromhex(signature.removeprefix("0x"))
    except ValueError:
        return None


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def _time(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        raise SignInRefused(f"{text!r} is not an RFC 3339 time") from None
