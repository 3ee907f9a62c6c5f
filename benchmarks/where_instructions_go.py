"""Where a variant's instructions go: callgrind's inclusive count per Python function.

Run: ``python benchmarks/where_instructions_go.py request "signal_tracing defaults"`` (a variant
of ``request_overhead.py``) or ``... signal 6 "signal_tracing, sampler drops"`` (a workload index
and variant of ``signal_overhead.py``). The measured process runs under callgrind with Python's
perf trampoline (``-X perf``, Python 3.12+): every Python function is entered through a small
piece of machine code of its own, named in ``/tmp/perf-PID.map``, so callgrind's inclusive
count for that code is the function's inclusive count. Printed per measured operation, largest
first; ``--match`` keeps the functions whose qualified name or file contains one of the words.

The trampoline adds a few instructions per Python call: compare these figures with each other,
and take totals from ``request_overhead.py`` / ``signal_overhead.py``.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
_ADDRESS = re.compile(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+\?\?\?:0x([0-9a-f]+) \[\?\?\?\]$")


def run_profile(command: list[str], env: dict[str, str]) -> tuple[str, int]:
    """Run ``command`` (a Python script) under callgrind; return the output file and pid."""
    out = os.path.join(tempfile.mkdtemp(prefix="callgrind-"), "callgrind.out")
    full = [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={out}",
        "--toggle-collect=functools_reduce",
        sys.executable,
        "-X",
        "perf",
        *command,
    ]
    result = subprocess.run(full, capture_output=True, text=True, env=env, check=False)
    match = re.search(r"==(\d+)== Collected", result.stderr)
    if result.returncode or match is None:
        raise SystemExit(f"callgrind failed:\n{result.stderr[-3000:]}")
    return out, int(match.group(1))


def inclusive_by_function(out: str, pid: int) -> dict[str, int]:
    names: dict[int, str] = {}
    perf_map = Path(f"/tmp/perf-{pid}.map")
    for line in perf_map.read_text().splitlines():
        address, _size, name = line.split(" ", 2)
        names[int(address, 16)] = name.removeprefix("py::")
    perf_map.unlink()
    annotated = subprocess.run(
        ["callgrind_annotate", "--inclusive=yes", "--threshold=100", out],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    os.unlink(out)
    totals: dict[str, int] = {}
    for line in annotated.splitlines():
        match = _ADDRESS.match(line)
        if match is None:
            continue
        name = names.get(int(match.group(2), 16))
        if name is not None:
            # Recursion shows a function twice ('2 suffix in callgrind): keep the outer one.
            totals[name] = max(totals.get(name, 0), int(match.group(1).replace(",", "")))
    return totals


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("benchmark", choices=("request", "signal"))
    parser.add_argument("what", nargs="+", help="request: VARIANT; signal: WORKLOAD VARIANT")
    parser.add_argument("--operations", type=int, default=10, help="requests measured")
    parser.add_argument("--match", nargs="*", default=[])
    parser.add_argument("--top", type=int, default=60)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONHASHSEED": "0"}  # as the benchmarks run it
    if args.benchmark == "request":
        import request_overhead

        database = str(Path(tempfile.mkdtemp()) / "migrated.sqlite3")
        request_overhead.build_database(database)
        command = [
            str(HERE / "request_overhead.py"),
            "--measure",
            args.what[0],
            "--database",
            database,
            "--requests",
            str(args.operations),
        ]
        operations = args.operations
    else:
        workload, variant = args.what
        scale = 0.05
        command = [
            str(HERE / "signal_overhead.py"),
            "--measure-one",
            workload,
            variant,
            "--scale",
            str(scale),
        ]
        # Import it only here: it sets Django up on import.
        import signal_overhead

        operations = signal_overhead.build_workloads(scale)[int(workload)].number
        signal_overhead.setup_database()
        env["BENCH_DATABASE"] = signal_overhead._template_database()
    out, pid = run_profile(command, env)
    totals = inclusive_by_function(out, pid)
    rows = sorted(totals.items(), key=lambda item: -item[1])
    if args.match:
        rows = [row for row in rows if any(word in row[0] for word in args.match)]
    for name, count in rows[: args.top]:
        print(f"{count / operations:>12,.0f}  {name}")


if __name__ == "__main__":
    main()
