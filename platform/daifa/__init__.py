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

__version__ = "0.1.0"

__all__ = [
    "AgreementSetParams",
    "Instalment",
    "InstalmentStatus",
    "PlanParams",
    "ReleaseRule",
    "__version__",
]
