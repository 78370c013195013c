"""The arguments the escrow's calls on a recorded plan take: the plan's parameters and, for each
instalment named, its terms with the Merkle proof that it belongs to the plan; and batches of calls that
fit a transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from sqlalchemy.orm import Session

from daifa.chain import abi
from daifa.chain import typed_data as td
from daifa.domain.plans import Instalment
from daifa.services import records
from daifa.store import models as m

T = TypeVar("T")


def instalment_refs(rows: Sequence[m.Instalment], indices: Sequence[int]) -> list[tuple[object, ...]]:
    """The contract's InstalmentRef for each of `indices`, from every instalment of the plan (`rows`)."""
    return refs_of_terms([records.terms(r) for r in rows], indices)


def refs_of_terms(terms: Sequence[Instalment], indices: Sequence[int]) -> list[tuple[object, ...]]:
    """`instalment_refs` from the plan's instalments' terms, in index order."""
    proofs = td.instalment_proofs(terms, indices)
    return [abi.instalment_ref(i, terms[i], proof) for i, proof in zip(indices, proofs, strict=True)]


def plan_target(
    session: Session, plan: m.Plan, rows: Sequence[m.Instalment], indices: Sequence[int]
) -> tuple[object, ...]:
    """(planId, params, refs): what every call on several instalments starts with."""
    return (plan.chain_plan_id, abi.plan_params(records.plan_params(session, plan)), instalment_refs(rows, indices))


def instalment_target(session: Session, plan: m.Plan, rows: Sequence[m.Instalment], index: int) -> tuple[object, ...]:
    """(planId, params, ref): what every call on one instalment starts with."""
    return (plan.chain_plan_id, abi.plan_params(records.plan_params(session, plan)), instalment_refs(rows, [index])[0])


def in_batches(
    encode: Callable[[list[tuple[object, ...]]], bytes], items: Sequence[tuple[T, tuple[object, ...]]], budget: int
) -> list[list[tuple[T, tuple[object, ...]]]]:
    """`items` (a record and its call's arguments) in order, in batches whose calldata, as `encode` makes
    it from a list of arguments, stays under `budget` bytes; an item larger than the budget is a batch alone."""
    batches: list[list[tuple[T, tuple[object, ...]]]] = []
    size = 0
    for item in items:
        own = len(encode([item[1]]))
        if not batches or size + own > budget:
            batches.append([])
            size = 0
        batches[-1].append(item)
        size += own
    return batches
