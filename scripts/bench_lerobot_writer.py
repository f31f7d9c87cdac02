#!/usr/bin/env python3
"""LeRobot's own writing path, fed already-decoded frames (the reference for
`cargo bench --bench export_lerobot`).

  bench_lerobot_writer.py JOB.json OUT_DIR [--encode-only]

JOB.json (written by the benchmark): fps, width, height, crf, g, preset,
camera keys, joint names, and per episode the task and the raw files
(RGB24 frames per camera, float32 state/action rows). Frames are loaded
into memory before the clock starts; the timed part is exactly
LeRobotDataset.create + add_frame for every frame + save_episode, with the
same codec settings reel uses. Prints one JSON line with the seconds.
With --encode-only, the same frames go straight to PyAV's encoder (the
FFmpeg and SVT-AV1 that LeRobot's path uses), one file per episode and
camera: the encoder's share of LeRobot's time.
"""
import json
import os
import sys
import time

import numpy as np


def main():
    job = json.load(open(sys.argv[1]))
    out = sys.argv[2]
    os.environ["HF_HUB_OFFLINE"] = "1"
    from lerobot.datasets import video_utils
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    # lerobot 0.4.4 (the newest for Python 3.11) encodes with SVT-AV1's
    # default preset; 0.6.1 passes preset 12, as reel does. Give 0.4.4 the
    # same preset so both sides encode with identical settings.
    original = video_utils._get_codec_options

    def with_preset(vcodec, g=2, crf=30, preset=None):
        return original(vcodec, g, crf, job["preset"] if preset is None else preset)

    video_utils._get_codec_options = with_preset

    h, w = job["height"], job["width"]
    episodes = []
    for ep in job["episodes"]:
        n = ep["frames"]
        cams = {k: np.fromfile(p, dtype=np.uint8).reshape(n, h, w, 3) for k, p in ep["cameras"].items()}
        state = np.fromfile(ep["state"], dtype=np.float32).reshape(n, -1)
        action = np.fromfile(ep["action"], dtype=np.float32).reshape(n, -1)
        episodes.append((ep["task"], n, cams, state, action))

    features = {
        "observation.state": {"dtype": "float32", "shape": (len(job["state_names"]),), "names": job["state_names"]},
        "action": {"dtype": "float32", "shape": (len(job["action_names"]),), "names": job["action_names"]},
    }
    for k in job["cameras"]:
        features[k] = {"dtype": "video", "shape": (h, w, 3), "names": ["height", "width", "channels"]}

    if "--encode-only" in sys.argv:
        import av

        os.makedirs(out, exist_ok=True)
        t0 = time.perf_counter()
        for e, (task, n, cams, state, action) in enumerate(episodes):
            for k, frames in cams.items():
                with av.open(os.path.join(out, f"ep{e}-{k}.mp4"), "w") as c:
                    st = c.add_stream("libsvtav1", job["fps"], options=with_preset("libsvtav1", 2, 30))
                    st.pix_fmt, st.width, st.height = "yuv420p", w, h
                    for img in frames:
                        for p in st.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                            c.mux(p)
                    for p in st.encode():
                        c.mux(p)
        seconds = time.perf_counter() - t0
        print(json.dumps({"seconds": seconds, "frames": int(sum(e[1] for e in episodes))}))
        return

    t0 = time.perf_counter()
    ds = LeRobotDataset.create(
        repo_id="bench/lerobot",
        fps=job["fps"],
        features=features,
        root=out,
        robot_type="so101",
        use_videos=True,
        image_writer_threads=job.get("image_writer_threads", 4),
        vcodec="libsvtav1",
    )
    for task, n, cams, state, action in episodes:
        for i in range(n):
            frame = {"observation.state": state[i], "action": action[i], "task": task}
            for k, v in cams.items():
                frame[k] = v[i]
            ds.add_frame(frame)
        ds.save_episode()
    ds.finalize() if hasattr(ds, "finalize") else None
    seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "frames": int(sum(e[1] for e in episodes))}))


if __name__ == "__main__":
    main()
