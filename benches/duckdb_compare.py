#!/usr/bin/env python3
"""Runs the SQL of `benches/queries.rs` in DuckDB on the same data and compares medians.

Steps (each cached under the build directory, so reruns are quick):
  1. `cargo bench --bench queries` must have run: it writes `criterion/queries/queries.json`
     (the SQL, the pinned `now`, the dataset size and ProfileDB's result counts) and criterion's
     `criterion/queries/<name>/new/estimates.json` (ProfileDB's medians).
  2. The same synthetic data is written as CSV by `cargo run --release --example bench_data --
     --csv DIR` (the generator of `benches/common/mod.rs`, so the data is identical).
  3. The CSVs are loaded into native DuckDB tables (a `.duckdb` file next to them).
  4. Each query runs in DuckDB (threads as given, default 2) N times; the median is compared
     with ProfileDB's and the result counts are checked against each other.

Usage: python3 benches/duckdb_compare.py [--runs N] [--threads N]
Requires `pip install duckdb`.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))

PROFILE_COLUMNS = {
    "profile_id": "BIGINT",
    "country": "VARCHAR",
    "plan": "VARCHAR",
    "email_opt_in": "BOOLEAN",
    "age": "BIGINT",
    "lifetime_value": "DOUBLE",
    "order_count": "BIGINT",
    "signup_at": "BIGINT",
    "last_seen_at": "BIGINT",
    "email": "VARCHAR",
    "user_id": "VARCHAR",
    "channel": "VARCHAR",
    "city_code": "BIGINT",
    "score": "DOUBLE",
    "vip": "BOOLEAN",
    "language": "VARCHAR",
    "sessions_30d": "BIGINT",
    "cart_value": "DOUBLE",
    "segment_hint": "BIGINT",
    "birth_year": "BIGINT",
    "phone_verified": "BOOLEAN",
}
EVENT_COLUMNS = {
    "profile_id": "BIGINT",
    "event": "VARCHAR",
    "timestamp": "BIGINT",
    "revenue": "DOUBLE",
}


def duckdb_columns(columns):
    return "{" + ", ".join(f"'{k}': '{v}'" for k, v in columns.items()) + "}"


def export_csv(profiles, events, csv_dir):
    if (csv_dir / "profiles.csv").exists() and (csv_dir / "events.csv").exists():
        return
    print(f"writing CSV to {csv_dir} (one-time)…", file=sys.stderr)
    subprocess.run(
        ["cargo", "run", "--release", "--example", "bench_data", "--",
         "--profiles", str(profiles), "--events", str(events), "--csv", str(csv_dir)],
        cwd=REPO, check=True)


def load(con, csv_dir):
    tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    if {"profiles", "events"} <= tables:
        return
    print("loading CSV into DuckDB (one-time)…", file=sys.stderr)
    start = time.perf_counter()
    con.execute(f"""
        CREATE OR REPLACE TABLE profiles AS
        SELECT * REPLACE (make_timestamp(signup_at) AS signup_at,
                          make_timestamp(last_seen_at) AS last_seen_at)
        FROM read_csv('{csv_dir / "profiles.csv"}', header = true,
                      columns = {duckdb_columns(PROFILE_COLUMNS)})""")
    con.execute(f"""
        CREATE OR REPLACE TABLE events AS
        SELECT * REPLACE (make_timestamp("timestamp") AS "timestamp")
        FROM read_csv('{csv_dir / "events.csv"}', header = true,
                      columns = {duckdb_columns(EVENT_COLUMNS)})""")
    con.execute("CHECKPOINT")
    print(f"loaded in {time.perf_counter() - start:.1f}s", file=sys.stderr)


def duckdb_sql(sql, now):
    # ProfileDB pins now() with SET now; DuckDB gets the same instant as a literal (UTC, no tz).
    literal = now.replace("T", " ").rstrip("Z")
    return sql.replace("now()", f"TIMESTAMP '{literal}'")


def profiledb_median_ms(name):
    path = TARGET / "criterion" / "queries" / name / "new" / "estimates.json"
    if not path.exists():
        return None
    with open(path) as f:
        return json.load(f)["median"]["point_estimate"] / 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    try:
        import duckdb
    except ImportError:
        sys.exit("DuckDB's Python package is missing: pip install duckdb")

    manifest_path = TARGET / "criterion" / "queries" / "queries.json"
    if not manifest_path.exists():
        sys.exit(f"{manifest_path} is missing: run `cargo bench --bench queries` first")
    with open(manifest_path) as f:
        manifest = json.load(f)
    profiles, events = manifest["profiles"], manifest["events"]
    data_dir = TARGET / "bench-data"
    csv_dir = data_dir / f"csv-{profiles}-{events}e"
    export_csv(profiles, events, csv_dir)

    con = duckdb.connect(str(data_dir / f"duckdb-{profiles}-{events}e.duckdb"))
    con.execute(f"SET threads = {args.threads}")
    load(con, csv_dir)

    print(f"dataset: {profiles:,} profiles × 20 columns, {events:,} events; "
          f"DuckDB {duckdb.__version__}, threads={args.threads}, median of {args.runs} runs")
    header = f"{'query':<42} {'rows':>9} {'ProfileDB ms':>13} {'DuckDB ms':>10} {'ratio':>7}"
    print(header)
    print("-" * len(header))
    mismatches = 0
    for query in manifest["queries"]:
        sql = duckdb_sql(query["sql"], manifest["now"])
        count = con.execute(sql).fetchone()[0]  # warm-up, and the answer to check
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            con.execute(sql).fetchall()
            times.append((time.perf_counter() - start) * 1e3)
        duck = statistics.median(times)
        ours = profiledb_median_ms(query["name"])
        ratio = f"{duck / ours:6.1f}×" if ours else "   n/a"
        ours_text = f"{ours:13.3f}" if ours is not None else f"{'n/a':>13}"
        flag = ""
        if count != query["count"]:
            mismatches += 1
            flag = f"  MISMATCH: ProfileDB {query['count']}, DuckDB {count}"
        print(f"{query['name']:<42} {count:>9} {ours_text} {duck:10.3f} {ratio}{flag}")
    if mismatches:
        sys.exit(f"{mismatches} queries disagree")


if __name__ == "__main__":
    main()
