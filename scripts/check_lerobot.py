#!/usr/bin/env python3
"""Checks a LeRobot v3.0 dataset written by `reel export lerobot`.

  check_lerobot.py DIR            light check (pyarrow + PyAV): Arrow types,
                                  info.json against the rows, episode bounds,
                                  index contiguity, timestamp = frame_index/fps,
                                  every video frame decoded at the exact time.
  check_lerobot.py DIR --lerobot  also loads it with the real `lerobot`
                                  package offline and reads every frame with
                                  both video backends (pyav, and the default).

Prints `OK <episodes> <frames>` on success; exits 1 with the reason otherwise.
"""
import glob
import json
import os
import sys


def fail(msg):
    print(f"FAIL {msg}")
    sys.exit(1)


def light(root):
    import av
    import pyarrow as pa
    import pyarrow.parquet as pq

    info = json.load(open(os.path.join(root, "meta/info.json")))
    if info["codebase_version"] != "v3.0":
        fail(f"codebase_version {info['codebase_version']}")
    fps = info["fps"]
    feats = info["features"]
    video_keys = [k for k, v in feats.items() if v["dtype"] == "video"]
    data_files = sorted(glob.glob(os.path.join(root, "data/*/*.parquet")))
    table = pa.concat_tables([pq.read_table(f) for f in data_files])
    # Exact Arrow types.
    for name, spec in feats.items():
        if spec["dtype"] == "video":
            if name in table.column_names:
                fail(f"video feature {name} has a data column")
            continue
        t = table.schema.field(name).type
        if spec["shape"] == [1]:
            want = pa.float32() if spec["dtype"] == "float32" else pa.int64()
        else:
            want = pa.list_(pa.field("element", pa.float32()), spec["shape"][0])
        if t != want:
            fail(f"{name}: arrow type {t}, expected {want}")
    n = table.num_rows
    if n != info["total_frames"]:
        fail(f"rows {n} != total_frames {info['total_frames']}")
    index = table.column("index").to_pylist()
    if index != list(range(n)):
        fail("index is not 0..n-1 in file order")
    for f in data_files:
        md = pq.ParquetFile(f).metadata
        eps = pq.read_table(f, columns=["episode_index"]).column("episode_index").to_pylist()
        if md.num_row_groups != len(set(eps)):
            fail(f"{f}: {md.num_row_groups} row groups for {len(set(eps))} episodes")
    episodes = pa.concat_tables(
        [pq.read_table(f) for f in sorted(glob.glob(os.path.join(root, "meta/episodes/*/*.parquet")))]
    ).to_pylist()
    if len(episodes) != info["total_episodes"]:
        fail(f"{len(episodes)} episode rows for total_episodes {info['total_episodes']}")
    tasks = pq.read_table(os.path.join(root, "meta/tasks.parquet"))
    if json.loads(tasks.schema.metadata[b"pandas"])["index_columns"] != ["task"]:
        fail("tasks.parquet lacks the pandas index metadata")
    if "subtask_index" in feats:
        sub = pq.read_table(os.path.join(root, "meta/subtasks.parquet"))
        if json.loads(sub.schema.metadata[b"pandas"])["index_columns"] != ["subtask"]:
            fail("subtasks.parquet lacks the pandas index metadata")
        if sub.column("subtask_index").to_pylist() != list(range(sub.num_rows)):
            fail("subtasks.parquet rows are not in subtask_index order")
        bad = [v for v in table.column("subtask_index").to_pylist() if not -1 <= v < sub.num_rows]
        if bad:
            fail(f"subtask_index values {sorted(set(bad))[:5]} outside -1..{sub.num_rows - 1}")
    # Splits: ranges of episode indices that cover every episode once.
    covered = []
    for name, span in info.get("splits", {}).items():
        a, b = (int(x) for x in span.split(":"))
        covered.extend(range(a, b))
    if info.get("splits") and sorted(covered) != list(range(info["total_episodes"])):
        fail(f"splits {info['splits']} do not cover episodes 0..{info['total_episodes'] - 1} once")
    fi = table.column("frame_index").to_pylist()
    ts = table.column("timestamp").to_pylist()
    ei = table.column("episode_index").to_pylist()
    decoded = 0
    for i, ep in enumerate(episodes):
        if ep["episode_index"] != i:
            fail(f"episode row {i} has episode_index {ep['episode_index']}")
        a, b = ep["dataset_from_index"], ep["dataset_to_index"]
        if b - a != ep["length"] or any(e != i for e in ei[a:b]):
            fail(f"episode {i}: rows {a}..{b} do not match length {ep['length']}")
        for k in range(b - a):
            if fi[a + k] != k or abs(ts[a + k] - k / fps) > 1e-6:
                fail(f"episode {i} frame {k}: frame_index {fi[a + k]} timestamp {ts[a + k]}")
        for key in video_keys:
            c, f = ep[f"videos/{key}/chunk_index"], ep[f"videos/{key}/file_index"]
            t0, t1 = ep[f"videos/{key}/from_timestamp"], ep[f"videos/{key}/to_timestamp"]
            if abs((t1 - t0) * fps - ep["length"]) > 1e-6:
                fail(f"episode {i} {key}: span {t0}..{t1} is not {ep['length']} frames")
            path = os.path.join(root, info["video_path"].format(video_key=key, chunk_index=c, file_index=f))
            with av.open(path) as container:
                stream = container.streams.video[0]
                if stream.average_rate != fps:
                    fail(f"{path}: average rate {stream.average_rate} != {fps}")
                times = [
                    float(fr.pts * stream.time_base)
                    for fr in container.decode(stream)
                ]
            inside = [t for t in times if t0 - 1e-4 < t < t1 - 1e-4]
            if len(inside) != ep["length"]:
                fail(f"episode {i} {key}: {len(inside)} decoded frames in [{t0},{t1}) for {ep['length']} rows")
            for k, t in enumerate(inside):
                if abs(t - (t0 + ts[a + k])) >= 1e-4:
                    fail(f"episode {i} {key} frame {k}: pts time {t} != {t0 + ts[a + k]}")
            decoded += len(inside)
            h, w = feats[key]["shape"][:2]
            if (stream.height, stream.width) != (h, w):
                fail(f"{path}: {stream.width}x{stream.height} but info says {w}x{h}")
    stats = json.load(open(os.path.join(root, "meta/stats.json")))
    for name, spec in feats.items():
        s = stats.get(name)
        if s is None:
            fail(f"stats.json has no {name}")
        if s["count"][0] <= 0:
            fail(f"stats {name}: count {s['count']}")
        if spec["dtype"] == "video" and len(s["mean"]) != 3:
            fail(f"stats {name}: not per channel")
    return len(episodes), n, decoded


def full(root):
    os.environ["HF_HUB_OFFLINE"] = "1"
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    results = []
    for backend in ("pyav", None):
        kwargs = {} if backend is None else {"video_backend": backend}
        ds = LeRobotDataset("reel/check", root=root, **kwargs)
        for i in range(len(ds)):
            item = ds[i]
        results.append((backend or "default", ds.num_episodes, len(ds), sorted(k for k in item if "image" in k)))
        last = item
    return results, last


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        sys.exit(2)
    root = sys.argv[1]
    episodes, frames, decoded = light(root)
    print(f"light: {episodes} episodes, {frames} rows, {decoded} video frames decoded at their timestamps")
    if "--lerobot" in sys.argv:
        results, last = full(root)
        for backend, ne, n, cams in results:
            print(f"lerobot ({backend}): {ne} episodes, {n} frames read, cameras {cams}")
        shapes = {k: tuple(v.shape) for k, v in last.items() if hasattr(v, "shape")}
        print(f"last item: {shapes} task={last['task']!r}")
    print(f"OK {episodes} {frames}")


if __name__ == "__main__":
    main()
