"""Daifa: escrowed pay-on-behalf disbursement on an EVM chain.

The public surface: the API client, the party wallet, webhook verification, the domain types and the
errors. Everything not in ``__all__`` may change.
"""

from daifa.domain.plans import (
    AgreementSetParams,
    Instalment,
    InstalmentStatus,
    PlanParams,
    ReleaseRule,
)
from daifa.errors import (
    Conflict,
    DaifaError,
    Forbidden,
    InvalidInput,
    InvalidTransition,
    NotFound,
    Problem,
    RateLimited,
    Unauthenticated,
    Unavailable,
)
from daifa.sdk.client import Client
from daifa.sdk.errors import ApiError
from daifa.wallet import Wallet, WalletError
from daifa.webhook_signatures import verify as verify_webhook

__version__ = "0.1.0"

__all__ = [
    "AgreementSetParams",
    "ApiError",
    "Client",
    "Conflict",
    "DaifaError",
    "Forbidden",
    "Instalment",
    "InstalmentStatus",
    "InvalidInput",
    "InvalidTransition",
    "NotFound",
    "PlanParams",
    "Problem",
    "RateLimited",
    "ReleaseRule",
    "Unauthenticated",
    "Unavailable",
    "Wallet",
    "WalletError",
    "__version__",
    "verify_webhook",
]
