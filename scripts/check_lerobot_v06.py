#!/usr/bin/env python3
"""Checks a LeRobot v3.0 dataset against the loading rules of lerobot v0.6.1.

lerobot >= 0.5 needs Python 3.12, which the machines reel is tested on lack,
so this applies, at the file level, what v0.6.1's loaders do (tag v0.6.1,
commit 7e241bd630a3719a56157a497ce5d08f244784f1 of huggingface/lerobot):

  - meta/info.json through `DatasetInfo.from_dict` (datasets/utils.py):
    fields it knows are kept, others ignored with a warning; `codebase_version`,
    `fps`, `features` required; `fps`, `chunks_size`, `data_files_size_in_mb`,
    `video_files_size_in_mb` positive; `check_version_compatibility` refuses a
    major version below v3;
  - meta/tasks.parquet through `load_tasks` (pandas, index = task);
  - meta/episodes/*/*.parquet through `load_episodes` (every file, one
    schema), with the columns `dataset_reader.py` and `video_utils.py` read:
    episode_index, length, dataset_from_index, dataset_to_index,
    data/chunk_index, data/file_index, meta/episodes/chunk_index,
    meta/episodes/file_index, and per video key chunk_index, file_index,
    from_timestamp (and to_timestamp);
  - meta/stats.json through `cast_stats_to_numpy` (every leaf numeric);
  - data/*/*.parquet against the features (the dtypes
    `get_hf_features_from_features` gives them), rows of each episode at
    [dataset_from_index, dataset_to_index) of the global `index`;
  - the `data_path` and `video_path` templates formatted with each episode's
    chunk and file index name files that exist.

Prints `OK v0.6.1 rules: <episodes> episodes, <frames> frames` or exits 1
with every rule that failed.
"""
import glob
import json
import os
import sys

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

KNOWN_INFO = {
    "codebase_version", "fps", "features", "total_episodes", "total_frames",
    "total_tasks", "chunks_size", "data_files_size_in_mb",
    "video_files_size_in_mb", "data_path", "video_path", "robot_type",
    "splits", "tools",
}
# get_hf_features_from_features: dtype -> the Arrow type datasets reads.
ARROW = {
    "float32": "float", "float64": "double", "int64": "int64",
    "int32": "int32", "int16": "int16", "int8": "int8", "uint8": "uint8",
    "bool": "bool", "string": "string",
}

problems = []


def rule(ok, text):
    if not ok:
        problems.append(text)
    return ok


def main(root):
    info = json.load(open(os.path.join(root, "meta/info.json")))
    unknown = sorted(set(info) - KNOWN_INFO)
    if unknown:
        print(f"note: v0.6.1 ignores these info.json fields (a warning): {unknown}")
    for key in ("codebase_version", "fps", "features"):
        rule(key in info, f"info.json lacks {key}")
    version = info.get("codebase_version", "")
    rule(version.startswith("v") and int(version[1:].split(".")[0]) >= 3,
         f"codebase_version {version!r}: v0.6.1 refuses a major version below v3")
    rule(isinstance(info.get("fps"), int) and info["fps"] > 0, f"fps {info.get('fps')!r} must be a positive int")
    for key in ("chunks_size", "data_files_size_in_mb", "video_files_size_in_mb"):
        if key in info:
            rule(info[key] > 0, f"{key} must be positive, is {info[key]}")
    feats = info["features"]
    for name, spec in feats.items():
        rule(isinstance(spec.get("shape"), list), f"feature {name}: shape must be a list")
        rule("dtype" in spec, f"feature {name}: no dtype")

    tasks = pd.read_parquet(os.path.join(root, "meta/tasks.parquet"))
    rule("task_index" in tasks.columns, f"tasks.parquet columns {list(tasks.columns)} lack task_index")
    rule(all(isinstance(t, str) for t in tasks.index), "tasks.parquet index must be the task strings")
    rule(len(tasks) == info.get("total_tasks"), f"{len(tasks)} tasks, info says {info.get('total_tasks')}")

    ep_files = sorted(glob.glob(os.path.join(root, "meta/episodes/*/*.parquet")))
    rule(len(ep_files) > 0, "no meta/episodes/*/*.parquet")
    schemas = {str(pq.read_schema(f)) for f in ep_files}
    rule(len(schemas) == 1, "meta/episodes files have different schemas (Dataset.from_parquet needs one)")
    episodes = pd.concat([pq.read_table(f).to_pandas() for f in ep_files], ignore_index=True)
    video_keys = [k for k, v in feats.items() if v["dtype"] == "video"]
    needed = ["episode_index", "length", "tasks", "dataset_from_index", "dataset_to_index",
              "data/chunk_index", "data/file_index", "meta/episodes/chunk_index", "meta/episodes/file_index"]
    for k in video_keys:
        needed += [f"videos/{k}/chunk_index", f"videos/{k}/file_index",
                   f"videos/{k}/from_timestamp", f"videos/{k}/to_timestamp"]
    missing = [c for c in needed if c not in episodes.columns]
    rule(not missing, f"meta/episodes lacks columns the v0.6.1 reader uses: {missing}")
    if missing:
        return finish(None, None)
    rule(list(episodes["episode_index"]) == list(range(len(episodes))),
         "episode_index must run 0..N-1 in file order")
    rule(len(episodes) == info.get("total_episodes"), f"{len(episodes)} episodes, info says {info.get('total_episodes')}")

    stats = json.load(open(os.path.join(root, "meta/stats.json")))
    for feat, per in stats.items():
        for stat, value in per.items():
            arr = np.atleast_1d(np.array(value))
            rule(arr.dtype.kind in "fiub", f"stats.json {feat}/{stat} is not numeric ({arr.dtype})")

    data_files = sorted(glob.glob(os.path.join(root, "data/*/*.parquet")))
    tables = [pq.read_table(f) for f in data_files]
    for f, t in zip(data_files, tables):
        for name, spec in feats.items():
            if spec["dtype"] in ("video", "image"):
                continue
            rule(name in t.schema.names, f"{f}: no column {name}")
            if name not in t.schema.names:
                continue
            typ = t.schema.field(name).type
            leaf = typ
            while hasattr(leaf, "value_type"):
                leaf = leaf.value_type
            want = ARROW.get(spec["dtype"])
            rule(want is None or str(leaf) == want, f"{f}: {name} holds {typ}, v0.6.1 casts to {want}")
    index = np.concatenate([t.column("index").to_numpy() for t in tables])
    ep_of_row = np.concatenate([t.column("episode_index").to_numpy() for t in tables])
    for _, ep in episodes.iterrows():
        lo, hi = int(ep["dataset_from_index"]), int(ep["dataset_to_index"])
        rows = np.nonzero((index >= lo) & (index < hi))[0]
        rule(len(rows) == hi - lo == int(ep["length"]),
             f"episode {ep['episode_index']}: {len(rows)} rows in [{lo}, {hi}), length {ep['length']}")
        rule(bool(np.all(ep_of_row[rows] == ep["episode_index"])),
             f"episode {ep['episode_index']}: rows of another episode in its index range")
        data_path = info.get("data_path", "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet")
        p = data_path.format(chunk_index=int(ep["data/chunk_index"]), file_index=int(ep["data/file_index"]))
        rule(os.path.exists(os.path.join(root, p)), f"episode {ep['episode_index']}: {p} is missing")
        for k in video_keys:
            vp = info.get("video_path").format(video_key=k, chunk_index=int(ep[f"videos/{k}/chunk_index"]),
                                               file_index=int(ep[f"videos/{k}/file_index"]))
            rule(os.path.exists(os.path.join(root, vp)), f"episode {ep['episode_index']}: {vp} is missing")
            span = float(ep[f"videos/{k}/to_timestamp"]) - float(ep[f"videos/{k}/from_timestamp"])
            rule(abs(span - int(ep["length"]) / info["fps"]) < 1e-4,
                 f"episode {ep['episode_index']} {k}: video span {span} s for {ep['length']} frames")
    rule(len(index) == info.get("total_frames"), f"{len(index)} rows, info says {info.get('total_frames')}")
    return finish(len(episodes), len(index))


def finish(episodes, frames):
    if problems:
        for p in problems:
            print(f"FAIL {p}")
        sys.exit(1)
    print(f"OK v0.6.1 rules: {episodes} episodes, {frames} frames")


if __name__ == "__main__":
    main(sys.argv[1])
