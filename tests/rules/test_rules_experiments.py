"""Holdout experiments in the pure engine: the document key, the stable assignment, Welch's interval."""

from __future__ import annotations

from collections import Counter

import pytest

from rules import DocumentInvalid, parse_document
from rules.experiments import group_of, t_quantile, welch_interval

DOC = """
name: Holdout
experiment: {control_share: %s}
rules:
  - name: any
    conditions: {all: [{name: amount, operator: greater_than, value: 0}]}
    actions: [{name: award_points, params: {points: 10}}]
"""


def _errors(share: str) -> dict[str, str]:
    with pytest.raises(DocumentInvalid) as err:
        parse_document(DOC % share, fmt="yaml")
    return {e.path: e.reason for e in err.value.errors}


def test_control_share_is_a_whole_percentage_between_1_and_99_named_by_its_path() -> None:
    doc = parse_document(DOC % "10", fmt="yaml")
    assert doc.experiment is not None and doc.experiment.control_share == 10
    assert doc.raw["experiment"] == {"control_share": 10}
    assert parse_document(DOC.replace("experiment: {control_share: %s}\n", ""), fmt="yaml").experiment is None
    assert "between 1 and 99" in _errors("0")["experiment.control_share"]
    assert "between 1 and 99" in _errors("100")["experiment.control_share"]
    assert "whole percentage" in _errors("12.5")["experiment.control_share"]
    assert "whole percentage" in _errors("true")["experiment.control_share"]
    with pytest.raises(DocumentInvalid) as err:
        parse_document(DOC.replace("{control_share: %s}", "{share: 10}"), fmt="yaml")
    paths = {e.path for e in err.value.errors}
    assert paths == {"experiment.share", "experiment.control_share"}
    with pytest.raises(DocumentInvalid) as err:
        parse_document(DOC.replace("{control_share: %s}", "10"), fmt="yaml")
    assert [e.path for e in err.value.errors] == ["experiment"]


def test_a_tier_document_has_no_experiment() -> None:
    tier = """
name: Tiers
type: tier
experiment: {control_share: 10}
tiers: [{code: member, name: Member, rank: 0}]
rules:
  - name: all
    conditions: {all: [{name: qualifying_points_365d, operator: greater_than_or_equal_to, value: 0}]}
    actions: [{name: set_tier, params: {tier: member}}]
"""
    with pytest.raises(DocumentInvalid) as err:
        parse_document(tier, fmt="yaml")
    assert {e.path for e in err.value.errors} == {"experiment"}


def test_assignment_is_stable_and_holds_out_about_the_share() -> None:
    groups = [group_of(7, cid, 10) for cid in range(20_000)]
    assert groups == [group_of(7, cid, 10) for cid in range(20_000)]  # deterministic, no state
    share = Counter(groups)["control"] / len(groups)
    assert 0.09 < share < 0.11
    assert group_of(7, 12345, 10) == "treated" and group_of(7, 12345, 99) == "control"  # a pinned hash
    assert [group_of(7, c, 10) for c in range(200)] != [group_of(8, c, 10) for c in range(200)]  # per campaign


def test_t_quantiles_match_the_printed_table() -> None:
    # two-sided 95 %: t(0.975, df) from any statistics table
    for df, value in ((1, 12.7062), (2, 4.3027), (8, 2.3060), (10, 2.2281), (30, 2.0423), (1000, 1.9623)):
        assert t_quantile(0.975, df) == pytest.approx(value, abs=1e-4)


def test_welch_interval_against_a_hand_computation() -> None:
    # treated 12, 14, 16, 18, 20: mean 16, variance 40/4 = 10; control 10 .. 18: mean 14, variance 10
    # se = sqrt(10/5 + 10/5) = 2; df = 4^2 / (2^2/4 + 2^2/4) = 8; t(0.975, 8) = 2.306004 (table)
    # difference 2, interval 2 -/+ 2.306004 * 2 = [-2.612008, 6.612008]
    got = welch_interval([12, 14, 16, 18, 20], [10, 12, 14, 16, 18])
    assert got.difference == 2
    assert got.df == pytest.approx(8)
    assert got.low == pytest.approx(-2.612008, abs=1e-5) and got.high == pytest.approx(6.612008, abs=1e-5)
    # unequal variances and sizes: treated 1, 2, 3, 4 (mean 2.5, var 5/3), control 10, 20, 30 (mean 20, var 100)
    # a = 5/12, b = 100/3; se^2 = 33.75; df = 33.75^2 / (a^2/3 + b^2/2) = 1139.0625 / 555.61343 = 2.050099
    got = welch_interval([1, 2, 3, 4], [10, 20, 30])
    assert got.difference == -17.5
    assert got.df == pytest.approx(2.050099, abs=1e-5)
    half = t_quantile(0.975, got.df) * 33.75**0.5
    assert (got.low, got.high) == pytest.approx((-17.5 - half, -17.5 + half))
    assert 4.2 < t_quantile(0.975, got.df) < 4.31  # between t(0.975, 2) = 4.303 and t(0.975, 3) = 3.182


def test_too_few_customers_give_no_interval() -> None:
    assert welch_interval([5], [1, 2]).low is None and welch_interval([5], [1, 2]).difference == 3.5
    assert welch_interval([], [1, 2]).high is None
    same = welch_interval([3, 3], [1, 1])
    assert (same.difference, same.low, same.high) == (2, 2, 2)
