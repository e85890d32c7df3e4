"""The standard performance set, run in one sitting, and the summary of docs/performance.md rewritten from it.

    .venv/bin/python -m bench.report                 # ceilings, batch, single, paced single, 300k-row import, ceilings
    .venv/bin/python -m bench.report --only batch    # a subset (the others' rows say "not measured in this sitting")
    .venv/bin/python -m bench.report --render bench/results/2026-12-04T1900-abc1234.json   # table only, no run

Every figure is quoted as a ratio to the ceilings of ``../shared/bench/ceiling.py`` measured before and after the
set, so a slower or faster day does not move the ratios. The raw results go to ``bench/results/`` (one JSON file per
sitting, named by time and commit) and the summary table between the ``report:start`` / ``report:end`` markers of
docs/performance.md is generated from that file alone: it holds no hand-written number.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "performance.md"
RESULTS = ROOT / "bench" / "results"
START, END = "<!-- report:start -->", "<!-- report:end -->"
STEPS = ("batch", "single", "paced", "import")

# (ceiling the figure is divided by, target ratio, milestone ratio) — issue 18's targets
TARGETS: dict[str, tuple[str, float, float]] = {
    "batch": ("mariadb_batch_rows_s", 0.14, 0.07),
    "single": ("flask_noio_req_s", 0.18, 0.10),
    "import": ("mariadb_batch_rows_s", 0.20, 0.10),
}
# the deployment the README recommends for the web tier: a process per core, threads keep connections alive
SINGLE_DEPLOYMENT = ["--web-procs", "2", "--web-threads", "8", "--workers", "2"]


def _python() -> str:
    venv = ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def ceilings(script: Path) -> dict[str, Any]:
    out = subprocess.run([sys.executable, str(script), _python()], capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def ingest(*args: str) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        path = Path(f.name)
    try:
        subprocess.run([_python(), "bench/ingest.py", *args, "--quiet", "--json", str(path)], cwd=ROOT, check=False)
        return dict(json.loads(path.read_text()))
    finally:
        path.unlink(missing_ok=True)


def bulk_import(rows: int, customers: int) -> dict[str, Any]:
    out = subprocess.run(
        [_python(), "-m", "bench.import", "--rows", str(rows), "--customers", str(customers), "--prefix", "R"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(json.loads(out[out.rindex("\n{") :]))  # its JSON summary is the last thing it prints


def ensure_databases() -> None:
    """The benches' own databases (their tables are dropped and re-created by each bench)."""
    sql = "".join(
        f"CREATE DATABASE IF NOT EXISTS {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci; "
        f"GRANT ALL ON {name}.* TO 'loyalty'@'127.0.0.1'; GRANT ALL ON {name}.* TO 'loyalty'@'localhost'; "
        for name in ("loyalty_bench", "loyalty_bench_i7")
    )
    subprocess.run(["mariadb", "-h", "127.0.0.1", "-uroot", "-e", sql], check=True)


def run(steps: list[str], ceiling_script: Path, quick: bool) -> dict[str, Any]:
    ensure_databases()
    n_batch, n_single, paced_s, rows = (5_000, 1_000, 15, 20_000) if quick else (30_000, 4_000, 45, 300_000)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True)
    result: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit.stdout.strip() + ("-dirty" if dirty.stdout.strip() else ""),
        "quick": quick,
        "load_average_at_start": os.getloadavg(),
        "ceilings_before": ceilings(ceiling_script),
    }
    if "batch" in steps:
        result["batch"] = ingest("--mode", "batch", "--n", str(n_batch), "--web-procs", "2", "--workers", "2")
    if "single" in steps:
        result["single"] = ingest("--mode", "single", "--n", str(n_single), "--concurrency", "24", *SINGLE_DEPLOYMENT)
    if "paced" in steps and (result.get("single") or {}).get("e2e_rate"):
        rate = max(1, int(result["single"]["e2e_rate"] / 2))
        result["paced"] = ingest(
            "--mode", "single", "--rate", str(rate), "--duration", str(paced_s), *SINGLE_DEPLOYMENT
        )
    if "import" in steps:
        result["import"] = bulk_import(rows, max(1_000, rows // 3))
    result["ceilings_after"] = ceilings(ceiling_script)
    result["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    return result


def _ratio(value: float | None, ceiling: str, r: dict[str, Any]) -> tuple[str, float | None]:
    """The ratio to the ceiling of the sitting: a range when the ceiling moved between before and after."""
    if not value:
        return "—", None
    lows = [r[k][ceiling] for k in ("ceilings_before", "ceilings_after") if r.get(k, {}).get(ceiling)]
    if not lows:
        return "—", None
    ratios = sorted(value / c for c in lows)
    text = f"{ratios[0]:.3f}" if f"{ratios[0]:.3f}" == f"{ratios[-1]:.3f}" else f"{ratios[0]:.3f} to {ratios[-1]:.3f}"
    return text, ratios[-1]


def _verdict(best: float | None, target: float, milestone: float) -> str:
    if best is None:
        return f"≥ {target}: not measured"
    if best >= target:
        return f"≥ {target}: **met**"
    if best >= milestone:
        return f"≥ {target}: milestone {milestone} met, target not"
    return f"≥ {target} (milestone {milestone}): **not met**"


def _ceiling_text(r: dict[str, Any], name: str) -> str:
    values = [r.get(k, {}).get(name) for k in ("ceilings_before", "ceilings_after")]
    return " / ".join(f"{v:,}" for v in values if v) + " (before / after)"


def render(r: dict[str, Any]) -> str:
    """The summary table of docs/performance.md, from one sitting's JSON results and nothing else."""
    rows = []
    b = r.get("batch")
    if b:
        ratio, best = _ratio(b.get("e2e_rate"), "mariadb_batch_rows_s", r)
        rows.append(
            (
                f"batch API end to end: `bench/ingest.py --mode batch --n {b['n']:,} --web-procs 2 --workers 2`",
                f"**{b['e2e_rate']:,} tx/s** (HTTP {b['http_rate']:,} tx/s; accrual p99 {b['latency_p99_s']:.1f} s; "
                f"{b['errors']} errors; ledger check exit {b['ledger_check']['exit_code']})",
                f"`mariadb_batch_rows_s` {_ceiling_text(r, 'mariadb_batch_rows_s')}",
                ratio,
                _verdict(best, *TARGETS["batch"][1:]),
            )
        )
    s = r.get("single")
    if s:
        ratio, best = _ratio(s.get("e2e_rate"), "flask_noio_req_s", r)
        rows.append(
            (
                f"single POSTs, README deployment (`{' '.join(SINGLE_DEPLOYMENT)}`), {s['n']:,} tx, 24 clients",
                f"**{s['e2e_rate']:,} tx/s** (HTTP {s['http_rate']:,} tx/s; accrual p99 {s['latency_p99_s']:.1f} s; "
                f"{s['errors']} errors)",
                f"`flask_noio_req_s` {_ceiling_text(r, 'flask_noio_req_s')}",
                ratio,
                _verdict(best, *TARGETS["single"][1:]),
            )
        )
    p = r.get("paced")
    if p:
        p99 = p.get("latency_p99_s")
        rows.append(
            (
                f"single POSTs paced at half that capacity ({p['rate_target']:g} tx/s)",
                f"accrual p50 {p['latency_p50_s']:.2f} s, **p99 {p99:.2f} s**; {p['processed']:,} credited",
                "—",
                "—",
                "p99 < 2 s: **met**" if p99 is not None and p99 < 2 else "p99 < 2 s: **not met**",
            )
        )
    i = r.get("import")
    if i and i.get("end_to_end"):
        e2e = i["end_to_end"]
        ratio, best = _ratio(e2e.get("rows_per_s"), "mariadb_batch_rows_s", r)
        rows.append(
            (
                f"bulk file import end to end: `bench.import --rows {i['rows']:,}` (import + 2 crediting workers)",
                f"**{e2e['rows_per_s']:,} rows/s**; importer peak {i['accept'].get('peak_mb', '—')} MB",
                f"`mariadb_batch_rows_s` {_ceiling_text(r, 'mariadb_batch_rows_s')}",
                ratio,
                _verdict(best, *TARGETS["import"][1:]) + "; importer < 300 MB",
            )
        )
    measured = {"batch", "single", "paced", "import"} & set(r)
    missing = [step for step in STEPS if step not in measured]
    head = (
        f"Generated by `python -m bench.report` from `{r.get('source', 'bench/results/…')}` — sitting "
        f"{r['started']} to {r['finished']}, commit `{r['commit']}`"
        f"{' (quick sizes: not for comparison)' if r.get('quick') else ''}, load average at start "
        f"{', '.join(f'{x:.2f}' for x in r['load_average_at_start'])}. "
        "Ratios are to the ceilings of `python ../shared/bench/ceiling.py .venv/bin/python` before and after the set."
    )
    lines = [
        head,
        "",
        "| path | measured | ceiling in the sitting | ratio | target (issue 18) |",
        "| --- | --- | --- | --- | --- |",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]
    if missing:
        lines += ["", f"Not measured in this sitting: {', '.join(missing)}."]
    return "\n".join(lines)


def rewrite(doc: str, table: str) -> str:
    """``doc`` with the text between the report markers replaced by ``table``."""
    if doc.count(START) != 1 or doc.count(END) != 1 or doc.index(START) > doc.index(END):
        raise ValueError(f"the document needs exactly one {START} … {END} block")
    head, rest = doc.split(START)
    _, tail = rest.split(END)
    return f"{head}{START}\n{table}\n{END}{tail}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(STEPS), help=f"comma-separated subset of {', '.join(STEPS)}")
    parser.add_argument("--quick", action="store_true", help="small sizes: checks the harness, not for the summary")
    parser.add_argument("--ceiling", type=Path, default=ROOT.parent / "shared" / "bench" / "ceiling.py")
    parser.add_argument("--render", type=Path, default=None, help="rewrite the summary from this results file only")
    parser.add_argument("--no-doc", action="store_true", help="write the results file, leave the document alone")
    args = parser.parse_args()
    if args.render is not None:
        results, path = json.loads(args.render.read_text()), args.render
    else:
        steps = [s for s in args.only.split(",") if s]
        if unknown := set(steps) - set(STEPS):
            parser.error(f"unknown steps: {', '.join(sorted(unknown))}")
        started = time.monotonic()
        results = run(steps, args.ceiling, args.quick)
        results["wall_s"] = round(time.monotonic() - started, 1)
        RESULTS.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H%M")
        path = RESULTS / f"{stamp}-{results['commit']}.json"
        path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    results["source"] = str(path.resolve().relative_to(ROOT)) if path.resolve().is_relative_to(ROOT) else str(path)
    table = render(results)
    print(table)
    if not args.no_doc:
        DOC.write_text(rewrite(DOC.read_text(), table))
        print(f"\n{DOC.relative_to(ROOT)} rewritten from {results['source']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
