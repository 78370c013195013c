"""Daifa: escrowed pay-on-behalf disbursement on an EVM chain.

The public surface grows with the platform; everything not in ``__all__`` may change.
"""

from daifa.domain.plans import (
    AgreementSetParams,
    Instalment,
    InstalmentStatus,
    PlanParams,
    ReleaseRule,
)
from daifa.errors import Conflict, DaifaError, Forbidden, InvalidInput, InvalidTransition, NotFound, Problem

__version__ = "0.1.0"

__all__ = [
    "AgreementSetParams",
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
    "ReleaseRule",
    "__version__",
]
