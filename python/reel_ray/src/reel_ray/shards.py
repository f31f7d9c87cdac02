"""Shards of one reel command as Ray tasks: each task runs the `reel` binary
with `--shard I/N` on a worker, a failed shard is submitted again up to
`max_retries` times, and progress is printed per shard as results come in.

Every shard reads and writes a filesystem path that all nodes share; the
reel CLI contract (`--shard I/N`, a shard's output written under a temporary
name and renamed) makes a retried shard replace a failed one.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import socket
import subprocess
import sys
import time
from typing import Callable, List, Optional, Sequence

import ray


@dataclasses.dataclass
class ShardResult:
    """What one attempt of one shard did."""

    shard: int
    attempt: int
    returncode: int
    seconds: float
    host: str
    node_id: str
    stdout: str
    stderr: str


@dataclasses.dataclass
class Summary:
    """What the whole run did."""

    shards: int
    succeeded: List[int]
    failed: List[int]
    retries: int
    shard_seconds: List[float]
    wall_seconds: float
    nodes: List[str]
    results: List[ShardResult]


def find_reel(given: Optional[str]) -> str:
    """The reel binary: `given`, or `reel` on the PATH."""
    if given:
        return os.path.abspath(given) if os.sep in given else given
    found = shutil.which("reel")
    if not found:
        sys.exit("reel-ray: no `reel` on the PATH; give its path with --reel")
    return found


@ray.remote(num_cpus=1)
def _run_shard(
    command: Sequence[str], shard: int, attempt: int, stdout_path: Optional[str], ok_codes: Sequence[int]
) -> ShardResult:
    """Runs one shard's command on a Ray worker; its standard output goes
    to `stdout_path` (written whole, then renamed) when given. An exit code
    in `ok_codes` counts as success (`reel check` exits 4 on a quality
    finding, which is a result, not a failure)."""
    started = time.monotonic()
    proc = subprocess.run(list(command), capture_output=True, text=True)
    code = 0 if proc.returncode in ok_codes else (proc.returncode or 1)
    if stdout_path and code == 0:
        partial = f"{stdout_path}.partial-{os.getpid()}"
        with open(partial, "w") as f:
            f.write(proc.stdout)
        os.replace(partial, stdout_path)
    return ShardResult(
        shard=shard,
        attempt=attempt,
        returncode=code,
        seconds=time.monotonic() - started,
        host=socket.gethostname(),
        node_id=ray.get_runtime_context().get_node_id(),
        stdout=proc.stdout[-4000:],
        stderr=proc.stderr[-4000:],
    )


def run_shards(
    command_of: Callable[[int], List[str]],
    shards: int,
    max_retries: int,
    cpus_per_shard: float = 1.0,
    say: Callable[[str], None] = print,
    stdout_of: Optional[Callable[[int], str]] = None,
    ok_codes: Sequence[int] = (0,),
) -> Summary:
    """Runs `command_of(i)` for shards i in 0..shards as Ray tasks; a shard
    that fails is submitted again, at most `max_retries` times. With
    `stdout_of`, shard i's standard output is kept in the file it names."""
    started = time.monotonic()
    task = _run_shard.options(num_cpus=cpus_per_shard)

    def submit(i: int, attempt: int):
        out = stdout_of(i) if stdout_of else None
        return task.remote(command_of(i), i, attempt, out, list(ok_codes))

    pending = {submit(i, 1): (i, 1) for i in range(shards)}
    results: List[ShardResult] = []
    succeeded, failed, retries = [], [], 0
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        ref = done[0]
        shard, attempt = pending.pop(ref)
        try:
            r = ray.get(ref)
        except ray.exceptions.RayError as e:  # the worker or node died
            r = ShardResult(shard, attempt, -1, 0.0, "?", "?", "", f"Ray: {e}")
        results.append(r)
        if r.returncode == 0:
            succeeded.append(shard)
            say(
                f"shard {shard}/{shards}: done in {r.seconds:.1f} s on {r.host} "
                f"(node {r.node_id[:8]}, attempt {attempt}) "
                f"[{len(succeeded)}/{shards} done]"
            )
            continue
        reason = (r.stderr.strip().splitlines() or ["no message"])[-1]
        if attempt <= max_retries:
            retries += 1
            say(f"shard {shard}/{shards}: attempt {attempt} failed ({reason}); retrying")
            pending[submit(shard, attempt + 1)] = (shard, attempt + 1)
        else:
            failed.append(shard)
            say(f"shard {shard}/{shards}: failed after {attempt} attempt(s): {reason}")
    final = {}
    for r in results:
        if r.returncode == 0 or r.shard not in final:
            final[r.shard] = r
    return Summary(
        shards=shards,
        succeeded=sorted(succeeded),
        failed=sorted(failed),
        retries=retries,
        shard_seconds=[round(final[i].seconds, 3) for i in range(shards) if i in final],
        wall_seconds=time.monotonic() - started,
        nodes=sorted({r.node_id for r in results if r.returncode == 0}),
        results=results,
    )
