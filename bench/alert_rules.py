#!/usr/bin/env python3
"""Alert benchmark: what does evaluating one rule cost, as the store grows?

Stores of 10,000 and 200,000 traces are seeded as bench/query.py seeds them (its generator, spaced
evenly up to now at --traces-per-day, 6,667 by default: the 24 hours before now hold the same ~6,700
traces at both sizes). Then each kind of rule is evaluated --reps times (after a warm-up) at the moment
seeding ended, and the median and p95 of one evaluation are printed per size, with the ratio large /
small and the query plan's key line. A rule's evaluation is one aggregate over the traces its query
matches in its window (alerts.evaluate.measure), or, for a per-trace rule, the newest matching rows
above its cursor: both are served by the start-time index (or the workflow one), so the cost follows
the window's traces, not the store's.

    .venv/bin/python bench/alert_rules.py                  # 10,000 and 200,000 traces
    .venv/bin/python bench/alert_rules.py --sizes 10000    # a quick look
    .venv/bin/python bench/alert_rules.py --smoke          # 100 and 200 traces, a few seconds

SQLite, in a temp dir removed at the end; each size runs in a subprocess of its own.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path[:0] = [str(ROOT), str(BENCH_DIR)]

# (label, rule fields): one rule per measure, and a per-trace rule, as a team would write them.
RULES = [
    ("error rate, workflow, 10 min", {"query": "workflow:support_agent", "measure": "error_rate", "window_minutes": 10}),
    ("count, all traces, 10 min", {"query": "", "measure": "count", "window_minutes": 10}),
    ("p95 duration, 10 min", {"query": "", "measure": "p95", "window_minutes": 10}),
    ("cost, 1 h", {"query": "", "measure": "cost", "window_minutes": 60}),
    ("tokens, workflow, 24 h", {"query": "workflow:support_agent", "measure": "tokens", "window_minutes": 1440}),
    ("error rate, compound q, 24 h", {"query": "status:error AND duration:>2s", "measure": "error_rate",
                                      "window_minutes": 1440}),
    ("per trace, workflow AND error", {"kind": "per_trace", "query": "workflow:support_agent AND error:true",
                                       "window_minutes": 60}),
]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,200000", help="comma-separated trace counts")
    parser.add_argument("--reps", type=int, default=20, help="timed evaluations per rule (default 20)")
    parser.add_argument("--spans-per-trace", type=int, default=10)
    parser.add_argument("--traces-per-day", type=int, default=6_667)
    parser.add_argument("--tmp-dir", help="parent of the temp dir (default: the system's)")
    parser.add_argument("--smoke", action="store_true", help="100 and 200 traces of 3 spans, 3 reps")
    parser.add_argument("--worker", metavar="CONFIG", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.smoke:
        args.sizes, args.reps, args.spans_per_trace = "100,200", 3, 3
    args.sizes = [int(size) for size in args.sizes.split(",")]
    return args


def worker(config_path):
    config = json.loads(Path(config_path).read_text())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "msgtrace_server.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    import query  # bench/query.py: the same seeded stores
    from alerts.evaluate import _per_trace_outcome, measure, window_traces
    from alerts.models import Rule

    call_command("migrate", interactive=False, verbosity=0)
    seed = query.seed_store({"size": config["size"], "label": config["label"], "batch_spans": 512,
                             "settings": {"spans_per_trace": config["spans_per_trace"],
                                          "traces_per_day": config["traces_per_day"], "seed": 42}})
    now = datetime.fromtimestamp(seed["now_ns"] / 1e9, timezone.utc)
    results = {}
    for name, fields in RULES:
        rule = Rule(name=name, **fields)
        evaluate = (lambda r=rule: _per_trace_outcome(r, now)) if rule.is_per_trace else (lambda r=rule: measure(r, now))
        evaluate()  # warm-up
        times = []
        for _ in range(config["reps"]):
            started = time.perf_counter()
            evaluate()
            times.append((time.perf_counter() - started) * 1000)
        sql, params = window_traces(rule, now).order_by().values("pk").query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            plan = "; ".join(row[-1] for row in cursor.fetchall())
        times.sort()
        results[name] = {"median": statistics.median(times), "p95": times[min(len(times) - 1, int(0.95 * len(times)))],
                         "in_window": window_traces(rule, now).count(), "plan": plan}
    Path(config["result_path"]).write_text(json.dumps({"seed": seed, "rules": results}))


def label(size):
    return f"{size // 1000}k" if size % 1000 == 0 else str(size)


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        return worker(args.worker)
    work = Path(tempfile.mkdtemp(prefix="msgtrace-alerts-bench-", dir=args.tmp_dir))
    results = {}
    try:
        for size in args.sizes:
            config = {"size": size, "label": label(size), "reps": args.reps, "spans_per_trace": args.spans_per_trace,
                      "traces_per_day": args.traces_per_day, "result_path": str(work / f"{size}.json")}
            config_path = work / f"{size}.config.json"
            config_path.write_text(json.dumps(config))
            env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
            env |= {"MSGTRACE_DB_PATH": str(work / f"{size}.sqlite3"), "MSGTRACE_SQLITE_SYNCHRONOUS": "OFF"}
            subprocess.run([sys.executable, __file__, "--worker", str(config_path)], env=env, check=True, cwd=ROOT)
            results[size] = json.loads(Path(config["result_path"]).read_text())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print_report(args, results)
    return 0


def print_report(args, results):
    sizes = sorted(results)
    print()
    for size in sizes:
        seed = results[size]["seed"]
        print(f"store {label(size)}: {seed['traces']:,} traces, {seed['spans']:,} spans")
    width = max(len(name) for name, _ in RULES)
    heads = [f"{label(size)} median" for size in sizes] + [f"{label(size)} p95" for size in sizes]
    heads += ["ratio"] if len(sizes) > 1 else []
    print(f"\n{'rule':<{width}}  " + "  ".join(f"{head:>11}" for head in heads) + "  traces in window")
    for name, _ in RULES:
        cells = [results[size]["rules"][name] for size in sizes]
        row = [f"{cell['median']:.2f} ms" for cell in cells] + [f"{cell['p95']:.2f} ms" for cell in cells]
        if len(sizes) > 1:
            row.append(f"{cells[-1]['median'] / max(cells[0]['median'], 1e-6):.1f}x")
        print(f"{name:<{width}}  " + "  ".join(f"{value:>11}" for value in row) + "  "
              + " / ".join(f"{cell['in_window']:,}" for cell in cells))
    print("\nplans (largest store):")
    for name, _ in RULES:
        print(f"  {name}: {results[sizes[-1]]['rules'][name]['plan']}")
    print(f"\n(one evaluation of one rule: median and p95 of {args.reps} after a warm-up; SQLite)")


if __name__ == "__main__":
    sys.exit(main())
