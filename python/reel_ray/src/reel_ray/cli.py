"""`reel-ray`: reel's heavy commands as shards on Ray.

    reel-ray [--address ADDR] [--reel PATH] [--max-retries 2] [--json]
             export lerobot EPISODES... --shards N --out DIR [reel export options]
    reel-ray [...] sim --shards N --out DIR [reel sim options]
    reel-ray [...] check FOLDER --shards N --out REPORT.json [reel check options]
    reel-ray [...] import SOURCES... --shards N --out DIR [reel import options]

Each shard runs `reel ... --shard I/N` as one Ray task (the `reel` binary on
the worker's PATH, or --reel); a failed shard is run again up to
--max-retries times; then, for an export, `reel merge` joins the shards on
the driver into DIR (the shards are written beside it, in DIR.shards/, each
with its status JSON, and removed after a good merge unless --keep-shards;
a sim's statuses go to DIR.status/, an import's reports to DIR.reports/).
Paths must be on a filesystem every
node sees.

Ray: with no --address and no RAY_ADDRESS a local Ray starts (a laptop);
RAY_ADDRESS or --address joins a running cluster (`ray start --head` on
one machine, `ray start --address HEAD:6379` on the others, or Ray started
inside a Slurm allocation).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
from typing import List

from . import shards as sharding


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="reel-ray", description=__doc__.split("\n\n")[0])
    p.add_argument("--address", default=None, help="Ray cluster address [default: RAY_ADDRESS, else a local Ray]")
    p.add_argument("--reel", default=None, help="the reel binary on the workers [default: reel on the PATH]")
    p.add_argument("--max-retries", type=int, default=2, help="runs again of a failed shard [default: 2]")
    p.add_argument("--cpus-per-shard", type=float, default=1.0, help="Ray CPUs each shard holds [default: 1]")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    sub = p.add_subparsers(dest="command", required=True)
    export = sub.add_parser("export", help="reel export, sharded, then reel merge")
    export.add_argument("format", choices=["lerobot"])
    sim = sub.add_parser("sim", help="reel sim, sharded into one folder")
    check = sub.add_parser("check", help="reel check of a folder, sharded, then --merge-reports")
    check.add_argument("folder", help="a folder of episodes")
    imp = sub.add_parser("import", help="reel import of many bags, sharded by source, into one folder")
    imp.add_argument("sources", nargs="+", help="bags (folders or files) to import")
    for s in (export, sim, check, imp):
        s.add_argument("--shards", type=int, required=True, help="how many shards")
        s.add_argument("--out", required=True, help="output directory (on a shared filesystem)")
    for s in (export, check):
        s.add_argument("--keep-shards", action="store_true", help="keep OUT.shards/ after the merge")
    return p


def _say(line: str) -> None:
    print(f"reel-ray: {line}", file=sys.stderr, flush=True)


def main(argv: List[str] | None = None) -> int:
    args, passthrough = _parser().parse_known_args(argv)
    if args.shards < 1:
        _say("--shards must be at least 1")
        return 2
    reel = sharding.find_reel(args.reel)
    out = os.path.abspath(args.out)
    import ray

    ray.init(address=args.address, logging_level="warning", log_to_driver=False)
    try:
        resources = ray.cluster_resources()
        _say(
            f"Ray with {len(ray.nodes())} node(s), {resources.get('CPU', 0):g} CPUs; "
            f"{args.shards} shard(s) of `reel {args.command}`"
        )
        if args.command == "export":
            return _export(args, reel, out, passthrough)
        if args.command == "check":
            return _check(args, reel, out, passthrough)
        if args.command == "import":
            return _import(args, reel, out, passthrough)
        return _sim(args, reel, out, passthrough)
    finally:
        ray.shutdown()


def _report(args, summary: sharding.Summary, extra: dict) -> None:
    data = {
        "shards": summary.shards,
        "succeeded": summary.succeeded,
        "failed": summary.failed,
        "retries": summary.retries,
        "wall_s": round(summary.wall_seconds, 3),
        "shard_s": summary.shard_seconds,
        "nodes": len(summary.nodes),
        **extra,
    }
    if args.json:
        print(json.dumps(data, indent=1))
    else:
        _say(
            f"{len(summary.succeeded)}/{summary.shards} shards done, {len(summary.failed)} failed, "
            f"{summary.retries} retried, on {len(summary.nodes)} node(s), wall {summary.wall_seconds:.1f} s; "
            f"shard times {summary.shard_seconds}"
        )
        for k, v in extra.items():
            _say(f"{k}: {v}")


def _export(args, reel: str, out: str, passthrough: List[str]) -> int:
    if os.path.exists(out):
        _say(f"{out} already exists; give a new directory")
        return 1
    shard_root = out + ".shards"
    os.makedirs(shard_root, exist_ok=True)
    shard_dir = [os.path.join(shard_root, f"shard-{i:04d}") for i in range(args.shards)]

    status = [os.path.join(shard_root, f"shard-{i:04d}.status.json") for i in range(args.shards)]

    def command(i: int) -> List[str]:
        return [
            reel, "export", args.format, *passthrough, "--out", shard_dir[i],
            "--shard", f"{i}/{args.shards}", "--status", status[i],
        ]

    summary = sharding.run_shards(command, args.shards, args.max_retries, args.cpus_per_shard, _say)
    if summary.failed:
        _report(args, summary, {"merged": None})
        return 1
    started = time.monotonic()
    merge = subprocess.run(
        [reel, "merge", *shard_dir, "--out", out, "--json"], capture_output=True, text=True
    )
    merge_s = time.monotonic() - started
    if merge.returncode != 0:
        _say(f"reel merge failed: {merge.stderr.strip()}")
        _report(args, summary, {"merged": None})
        return 1
    merged = json.loads(merge.stdout)
    # Episodes a shard could not export (it went on without them).
    left_out = []
    for path in status:
        with open(path) as f:
            left_out.extend(json.load(f).get("failed", []))
    for f in left_out:
        _say(f"left out {f['episode']}: {f['reason']}")
    if not args.keep_shards:
        shutil.rmtree(shard_root, ignore_errors=True)
    _report(
        args,
        summary,
        {
            "merged": out,
            "episodes": merged["total_episodes"],
            "frames": merged["total_frames"],
            "left_out": left_out,
            "merge_s": round(merge_s, 3),
        },
    )
    return 0


def _check(args, reel: str, out: str, passthrough: List[str]) -> int:
    """Each shard's JSON report in OUT.shards/, then `reel check
    --merge-reports` of them all into OUT; exits as `reel check` does."""
    shard_root = out + ".shards"
    os.makedirs(shard_root, exist_ok=True)
    reports = [os.path.join(shard_root, f"shard-{i:04d}.json") for i in range(args.shards)]
    folder = os.path.abspath(args.folder)

    def command(i: int) -> List[str]:
        return [reel, "check", folder, *passthrough, "--json", "--shard", f"{i}/{args.shards}"]

    # 3 (damaged files) and 4 (quality below the limits) are findings.
    summary = sharding.run_shards(
        command, args.shards, args.max_retries, args.cpus_per_shard, _say,
        stdout_of=lambda i: reports[i], ok_codes=(0, 3, 4),
    )
    if summary.failed:
        _report(args, summary, {"report": None})
        return 1
    merged = subprocess.run(
        [reel, "check", "--json", "--merge-reports", *reports], capture_output=True, text=True
    )
    if merged.returncode not in (0, 3, 4):
        _say(f"reel check --merge-reports failed: {merged.stderr.strip()}")
        return 1
    partial = out + ".partial"
    with open(partial, "w") as f:
        f.write(merged.stdout)
    os.replace(partial, out)
    report = json.loads(merged.stdout)
    if not args.keep_shards:
        shutil.rmtree(shard_root, ignore_errors=True)
    _report(
        args,
        summary,
        {
            "report": out,
            "episodes": len(report["episodes"]),
            "passed": report["passed"],
            "duplicate_groups": len(report["duplicates"]),
        },
    )
    return merged.returncode


def _import(args, reel: str, out: str, passthrough: List[str]) -> int:
    """Each shard imports its block of the sources (sorted by path) into
    OUT; its JSON report goes to OUT.reports/. Exits 3 when a source lost
    data (as `reel import` does), 1 when a shard failed."""
    report_dir = out + ".reports"
    os.makedirs(report_dir, exist_ok=True)
    sources = [os.path.abspath(s) for s in args.sources]
    reports = [os.path.join(report_dir, f"shard-{i:04d}.json") for i in range(args.shards)]

    def command(i: int) -> List[str]:
        return [
            reel, "import", *sources, *passthrough, "--out", out, "--json",
            "--shard", f"{i}/{args.shards}",
            "--status", os.path.join(report_dir, f"shard-{i:04d}.status.json"),
        ]

    # 3: a source was damaged and imported in part (a finding, not a failure).
    summary = sharding.run_shards(
        command, args.shards, args.max_retries, args.cpus_per_shard, _say,
        stdout_of=lambda i: reports[i], ok_codes=(0, 3),
    )
    imported = skipped = 0
    lost, failed_sources = [], []
    for path in reports:
        if not os.path.exists(path):
            continue
        with open(path) as f:
            text = f.read()
        if not text.strip():
            continue
        report = json.loads(text)
        imported += report["imported"]
        skipped += report["skipped"]
        failed_sources.extend(report["failed"])
        lost.extend(s["source"] for s in report["sources"] if s["losses"])
    for f in failed_sources:
        _say(f"not imported {f['episode']}: {f['reason']}")
    _report(
        args,
        summary,
        {"out": out, "imported": imported, "skipped": skipped, "with_losses": lost,
         "not_imported": failed_sources},
    )
    if summary.failed or failed_sources:
        return 1
    return 3 if lost else 0


def _sim(args, reel: str, out: str, passthrough: List[str]) -> int:
    status_dir = out + ".status"
    os.makedirs(status_dir, exist_ok=True)

    def command(i: int) -> List[str]:
        return [
            reel, "sim", *passthrough, "--out", out, "--shard", f"{i}/{args.shards}",
            "--status", os.path.join(status_dir, f"shard-{i:04d}.json"),
        ]

    summary = sharding.run_shards(command, args.shards, args.max_retries, args.cpus_per_shard, _say)
    files = sorted(f for f in os.listdir(out) if f.endswith(".mcap")) if os.path.isdir(out) else []
    _report(args, summary, {"out": out, "episodes": len(files)})
    return 1 if summary.failed else 0


if __name__ == "__main__":
    sys.exit(main())
