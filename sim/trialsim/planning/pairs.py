"""Which endpoints of compared scenarios face each other: the same id, or a pair the user names.

A comparison puts an endpoint of the reference beside the endpoint of the same
id in every other scenario, or beside the one the user pairs it with
(``--pair d3_rescue=d3_effect``). A one-group test is never put beside a
two-group comparison as if alike: a pair of them is refused, and endpoints of
the same id that differ so get no difference
(:attr:`trialsim.model.plan.EndpointPlan.compares_arms` tells them apart).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from trialsim.model.plan import TrialPlan


def union(groups: Iterable[Iterable[str]]) -> list[str]:
    """Distinct items of several sequences, in order of first appearance."""
    return list(dict.fromkeys(item for group in groups for item in group))


def compared_endpoints(
    plans: Sequence[TrialPlan], pairs: Mapping[str, str] | None = None
) -> dict[str, tuple[str | None, ...]]:
    """The endpoint each scenario contributes to each compared endpoint.

    Parameters
    ----------
    plans : sequence of TrialPlan
        The reference first.
    pairs : mapping of str to str, optional
        Reference endpoint id to the id of the endpoint compared with it in the
        other scenarios, e.g. ``{"d3_rescue": "d3_effect"}``. A scenario without
        that endpoint contributes its endpoint of the reference's id, if any.

    Returns
    -------
    dict of str to tuple of (str or None)
        Keyed by the reference's endpoint ids, then the other scenarios' ids
        that no pair reads; one endpoint id per scenario, None where it has none.
    """
    pairs = pairs or {}
    present = [{endpoint.id for endpoint in plan.endpoints} for plan in plans]
    read_by_pair = set(pairs.values()) - present[0]
    rows = union((endpoint.id for endpoint in plan.endpoints) for plan in plans)
    compared = {}
    for row in rows:
        if row in read_by_pair:
            continue
        wanted = pairs.get(row, row)
        ids: list[str | None] = [row if row in present[0] else None]
        for other in present[1:]:
            ids.append(wanted if wanted in other else row if row in other else None)
        compared[row] = tuple(ids)
    return compared


def check_pairs(plans: Sequence[TrialPlan], names: Sequence[str], pairs: Mapping[str, str]) -> None:
    """Refuse pairs of endpoints that do not exist or do not ask alike questions.

    Parameters
    ----------
    plans : sequence of TrialPlan
        The reference first.
    names : sequence of str
        The scenarios' names, for the messages.
    pairs : mapping of str to str
        Reference endpoint id to another scenario's endpoint id.

    Raises
    ------
    ValueError
        One line: a reference id the reference lacks, an id no other scenario
        has, or a pair of a one-group test with a two-group comparison
        (:attr:`trialsim.model.plan.EndpointPlan.compares_arms`).
    """
    kinds = [{e.id: e.compares_arms for e in plan.endpoints} for plan in plans]
    for reference_id, other_id in pairs.items():
        pair = f"pair {reference_id}={other_id}"
        if reference_id not in kinds[0]:
            raise ValueError(
                f"{pair}: the reference {names[0]} has no endpoint {reference_id} "
                f"(it has {', '.join(kinds[0])})"
            )
        if not any(other_id in other for other in kinds[1:]):
            raise ValueError(f"{pair}: no other scenario has an endpoint {other_id}")
        for name, other in zip(names[1:], kinds[1:], strict=True):
            if other_id in other and other[other_id] != kinds[0][reference_id]:
                raise ValueError(
                    f"{pair}: {reference_id} of {names[0]} {_kind(kinds[0][reference_id])} "
                    f"but {other_id} of {name} {_kind(other[other_id])}; "
                    "only endpoints that ask alike questions can be paired"
                )


def _kind(compares_arms: bool) -> str:
    return "compares two groups" if compares_arms else "is a one-group test"
