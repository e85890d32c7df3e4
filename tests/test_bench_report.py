"""bench.report writes the performance summary from one sitting's results and nothing else."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.report import END, START, render, rewrite

SITTING = {
    "started": "2026-12-04T19:00:00+00:00",
    "finished": "2026-12-04T19:12:00+00:00",
    "commit": "abc1234",
    "load_average_at_start": [0.2, 0.4, 0.5],
    "ceilings_before": {"flask_noio_req_s": 1200, "mariadb_batch_rows_s": 30000},
    "ceilings_after": {"flask_noio_req_s": 1300, "mariadb_batch_rows_s": 30000},
    "batch": {
        "n": 30000,
        "e2e_rate": 2400.0,
        "http_rate": 3000.0,
        "latency_p99_s": 8.04,
        "errors": 0,
        "ledger_check": {"exit_code": 0},
    },
    "single": {"n": 4000, "e2e_rate": 130.0, "http_rate": 131.0, "latency_p99_s": 1.5, "errors": 0},
}


def test_the_table_holds_the_sitting_s_figures_as_ratios_to_its_ceilings():
    table = render(SITTING)
    assert "commit `abc1234`" in table
    assert "**2,400.0 tx/s**" in table and "| 0.080 |" in table  # 2,400 / 30,000 with the same ceiling twice
    assert "milestone 0.07 met, target not" in table
    assert "0.100 to 0.108" in table  # 130 / 1,300 and 130 / 1,200: the ceiling moved during the sitting
    assert "Not measured in this sitting: paced, import." in table


def test_the_summary_between_the_markers_is_replaced_and_the_rest_kept():
    doc = f"# Perf\n\nintro\n\n{START}\nold table 3,392 tx/s met\n{END}\n\nhistory\n"
    out = rewrite(doc, render(SITTING))
    assert "3,392" not in out and out.startswith("# Perf\n\nintro\n\n") and out.endswith("\n\nhistory\n")
    assert rewrite(out, "x").count(START) == 1
    with pytest.raises(ValueError):
        rewrite("no markers here", "x")


def test_the_performance_document_has_its_generated_block():
    doc = (Path(__file__).resolve().parent.parent / "docs" / "performance.md").read_text()
    assert doc.count(START) == 1 and doc.count(END) == 1
    json.dumps(SITTING)  # the results file format is plain JSON
