"""The three agreements of a product opening, generated from templates filled with the parties and the
terms. The text is deterministic: the same product always gives the same bytes, hence the same hash on
chain, so anyone can regenerate an agreement and check it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from string import Template

PAYER_PLATFORM = Template("""\
PAYER-PLATFORM AGREEMENT (Daifa disbursement product $product)

Between $payer_name (wallet $payer_address), the Payer, and the Daifa platform (operator $operator),
under the escrow contract $escrow on chain $chain_id.

1. The Payer authorises credit of up to $limit smallest units of $tokens for the business
   "$business" with $payee_name, until $expiry (UTC).
2. Funds the Payer deposits are held by the escrow contract. They can only be released to the payee of the
   plan they were deposited for, refunded to the Payer, or paid as a fee the Payer signed for.
3. The platform relays transactions and attests delivered materials; it can never take or redirect funds.
4. Every plan under this product is signed by the Payer and the Payee before it is recorded on chain.
""")

PAYEE_PLATFORM = Template("""\
PAYEE-PLATFORM AGREEMENT (Daifa disbursement product $product)

Between $payee_name (wallet $payee_address), the Payee, and the Daifa platform (operator $operator),
under the escrow contract $escrow on chain $chain_id.

1. The Payee receives disbursements for the business "$business" with $payer_name as the plans both
   parties sign allow, up to $limit smallest units of $tokens, until $expiry (UTC).
2. Materials the Payee submits are hashed on chain; the platform attests them after review.
3. Disputes freeze an instalment until the plan's arbiter splits it.
""")

PAYER_PAYEE = Template("""\
PAYER-PAYEE AGREEMENT (Daifa disbursement product $product)

Between $payer_name (wallet $payer_address), the Payer, and $payee_name (wallet $payee_address), the Payee,
for the business "$business", recorded by the escrow contract $escrow on chain $chain_id.

1. The Payer pays the Payee for this business through disbursement plans both parties sign, up to
   $limit smallest units of $tokens in total, until $expiry (UTC).
2. Each plan fixes its instalments: when to deposit, when to release, how much, how a release is verified
   and which materials are required.
3. Either party may dispute an instalment; the plan's arbiter decides how it is split.
""")


@dataclass(frozen=True)
class AgreementTerms:
    product: str
    business: str
    payer_name: str
    payer_address: str
    payee_name: str
    payee_address: str
    tokens: tuple[str, ...]
    limit: int
    expiry: int
    operator: str
    escrow: str
    chain_id: int


def render(terms: AgreementTerms) -> list[tuple[str, bytes]]:
    """(filename, text) of the payer-platform, payee-platform and payer-payee agreements, in that order."""
    values = {
        "product": terms.product,
        "business": terms.business,
        "payer_name": terms.payer_name,
        "payer_address": terms.payer_address,
        "payee_name": terms.payee_name,
        "payee_address": terms.payee_address,
        "tokens": ", ".join(terms.tokens),
        "limit": str(terms.limit),
        "expiry": datetime.fromtimestamp(terms.expiry, UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "operator": terms.operator,
        "escrow": terms.escrow,
        "chain_id": str(terms.chain_id),
    }
    return [
        (f"{terms.product}-payer-platform.txt", PAYER_PLATFORM.substitute(values).encode()),
        (f"{terms.product}-payee-platform.txt", PAYEE_PLATFORM.substitute(values).encode()),
        (f"{terms.product}-payer-payee.txt", PAYER_PAYEE.substitute(values).encode()),
    ]
