#!/usr/bin/env python3
"""Writes the two small LeRobot datasets under tests/data/lerobot/ with the
`lerobot` package itself (not reel), for the import tests:

  v30_by_lerobot_0.4.4  codebase v3.0, by lerobot 0.4.4 (.venv-lerobot, scripts/setup-lerobot.sh)
  v21_by_lerobot_0.3.3  codebase v2.1, by lerobot 0.3.3, the last release that
                        writes v2.1: `pip install --no-deps --target DIR lerobot==0.3.3`,
                        then PYTHONPATH=DIR with the same venv's dependencies.

Each: 2 episodes of 20 frames at 30 fps, a 3-joint state and action, one
96x72 camera (AV1, as lerobot encodes by default), a task per episode.

  .venv-lerobot/bin/python scripts/make_lerobot_fixtures.py OUT_DIR
"""
import sys

import numpy as np
from lerobot.datasets.lerobot_dataset import CODEBASE_VERSION, LeRobotDataset

features = {
    "observation.state": {"dtype": "float32", "shape": (3,), "names": ["shoulder", "elbow", "gripper"]},
    "action": {"dtype": "float32", "shape": (3,), "names": ["shoulder", "elbow", "gripper"]},
    "observation.images.top": {"dtype": "video", "shape": (72, 96, 3), "names": ["height", "width", "channels"]},
}
ds = LeRobotDataset.create(
    f"test/{CODEBASE_VERSION.replace('.', '')}", fps=30, root=sys.argv[1], features=features,
    robot_type="so100", use_videos=True,
)
for ep in range(2):
    for i in range(20):
        img = np.zeros((72, 96, 3), np.uint8)
        img[:, :, 0] = (np.arange(96) * 2 + i * 9) % 256
        img[:, :, 1] = ep * 100
        s = np.array([np.sin(i / 5 + ep), np.cos(i / 7), 0.01 * i], np.float32)
        frame = {"observation.state": s, "action": s * 2, "observation.images.top": img}
        if CODEBASE_VERSION == "v2.1":
            ds.add_frame(frame, task=f"task {ep}")
        else:
            frame["task"] = f"task {ep}"
            ds.add_frame(frame)
    ds.save_episode()
if hasattr(ds, "finalize"):
    ds.finalize()
print(CODEBASE_VERSION, sys.argv[1])
