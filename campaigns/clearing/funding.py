"""Who pays for the points of an award: a campaign's ``funding`` resolved to funder ids and split exactly.

A campaign document's ``funding`` maps ``issuer`` (the provider of the
transaction), ``programme`` or provider codes to whole percentages summing to
100; the default is ``{issuer: 100}``. :func:`split` shares a number of points
by largest remainder: each funder gets the floor of its exact share, and the
points left over go one by one to the largest fractional parts (ties: the
order written in the document), so a split never creates or loses a point.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from campaigns.clearing import PROGRAMME

ISSUER = "issuer"
PROGRAMME_KEY = "programme"
DEFAULT: tuple[tuple[str, int], ...] = ((ISSUER, 100),)


def share_out(points: int, weights: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """``points`` shared in proportion to integer ``(key, weight)`` pairs, by largest remainder.

    Keys named twice are merged first; keys whose share rounds to nothing are
    left out; the shares always add up to ``points`` exactly.
    """
    merged: dict[int, int] = {}
    for key, weight in weights:
        merged[key] = merged.get(key, 0) + weight
    total = sum(merged.values())
    if points <= 0 or total <= 0:
        return []
    if len(merged) == 1:
        return [(next(iter(merged)), points)]
    order = list(merged)
    floors = {k: points * w // total for k, w in merged.items()}
    left = points - sum(floors.values())
    by_remainder = sorted(order, key=lambda k: (-(points * merged[k] % total), order.index(k)))
    for k in by_remainder[:left]:
        floors[k] += 1
    return [(k, floors[k]) for k in order if floors[k]]


def split(points: int, shares: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """``points`` shared by ``(funder, percent)`` pairs: ``(funder, points)`` (see :func:`share_out`)."""
    return share_out(points, shares)


def resolve(
    funding: Sequence[tuple[str, int]] | None, issuer: int | None, provider_ids: Mapping[str, int]
) -> list[tuple[int, int]]:
    """``(funder id, percent)`` for a campaign's funding; an unknown provider code is paid by the programme."""
    out: list[tuple[int, int]] = []
    for key, pct in funding or DEFAULT:
        if key == ISSUER:
            out.append((issuer if issuer is not None else PROGRAMME, pct))
        elif key == PROGRAMME_KEY:
            out.append((PROGRAMME, pct))
        else:
            out.append((provider_ids.get(key, PROGRAMME), pct))
    return out
