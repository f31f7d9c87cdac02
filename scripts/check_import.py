#!/usr/bin/env python3
"""Third-party side of the import tests.

  make-bags OUT      writes rosbag2 bags with the `rosbags` writer (not reel's):
                     OUT/robot_db3 (SQLite3, format 8), OUT/robot_mcap (MCAP,
                     format 9), each with JointState, CompressedImage (real JPEG
                     from OpenCV), PointCloud2, TF and a custom type reel does
                     not know.
  make-big OUT MB    a rosbag2 MCAP bag of about MB megabytes for the import
                     benchmark, by the `rosbags` writer: 7-joint JointState and
                     /tf at 500 Hz, three 30 Hz cameras (100 kB JPEG-sized
                     payloads of noise, none repeated: JPEG does not compress further),
                     a 10 Hz PointCloud2 of 30,000 points.
  read-rosbags SRC   reads every message of a bag with rosbags (AnyReader,
                     raw bytes, as a converter would before decoding) and
                     prints {"messages", "bytes", "seconds"}.
  rss CMD...         runs CMD and prints {"seconds", "max_rss_kb"} (the
                     child's peak resident set, from getrusage).
  counts SRC        per-topic message counts of a source bag: from its
                     metadata.yaml (parsed by ruamel.yaml) when it has one, and
                     as the `mcap` package (or rosbags, for SQLite3) reads the
                     data files; JSON {"metadata": ..., "data": ...}.
  bytes SRC EP MAP   reads the source bag's MCAP files (a folder's in split order,
                     or one file) and the episode with the `mcap` package: every
                     source message is in the episode under its mapped topic
                     with the same bytes and log time, in the same order.
  compare SRC EP MAP reads the source bag SRC and the imported episode EP with
                     rosbags (AnyReader) and with the `mcap` package, and checks
                     that every source message is in the episode under the topic
                     MAP (JSON {from: to}) names, with the same bytes, the same
                     log time and the same decoded values; stamped messages
                     carry header.stamp as publish time. Prints a JSON summary;
                     exit 1 on any difference.
"""
import json
import sys
from pathlib import Path

import numpy as np


def typestore_with_custom():
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    store = get_typestore(Stores.ROS2_HUMBLE)
    store.register(
        get_types_from_msg(
            "std_msgs/Header header\nfloat64 opening_m\nstring state\nuint8[] raw\n",
            "reel_test_msgs/msg/Gripper",
        )
    )
    return store


CUSTOM_DEF = "std_msgs/Header header\nfloat64 opening_m\nstring state\nuint8[] raw\n"


def make_bags(out: Path):
    import cv2
    from rosbags.rosbag2 import StoragePlugin, Writer

    store = typestore_with_custom()
    T = store.types
    Time = T["builtin_interfaces/msg/Time"]
    Header = T["std_msgs/msg/Header"]

    def header(ns, frame):
        return Header(stamp=Time(sec=ns // 10**9, nanosec=ns % 10**9), frame_id=frame)

    t0 = 1_700_000_000_000_000_000
    frames = []
    for i in range(6):
        img = np.zeros((72, 96, 3), np.uint8)
        img[:, :, 0] = (np.arange(96) * 2 + i * 10) % 256
        img[:, :, 1] = (np.arange(72)[:, None] * 3) % 256
        cv2.circle(img, (10 + i * 12, 36), 8, (255, 255, 255), -1)
        ok, jpg = cv2.imencode(".jpg", img)
        assert ok
        frames.append(np.frombuffer(jpg.tobytes(), np.uint8))
    for phase, (name, plugin, version) in enumerate([
        ("robot_db3", StoragePlugin.SQLITE3, 8),
        ("robot_mcap", StoragePlugin.MCAP, 9),
    ]):
        path = out / name
        with Writer(path, version=version, storage_plugin=plugin) as w:
            js = w.add_connection("/joint_states", "sensor_msgs/msg/JointState", typestore=store)
            cam = w.add_connection(
                "/cam_high/image_raw/compressed", "sensor_msgs/msg/CompressedImage", typestore=store
            )
            pc = w.add_connection("/velodyne_points", "sensor_msgs/msg/PointCloud2", typestore=store)
            tf = w.add_connection("/tf", "tf2_msgs/msg/TFMessage", typestore=store)
            grip = w.add_connection(
                "/gripper/status", "reel_test_msgs/msg/Gripper", typestore=store, msgdef=CUSTOM_DEF
            )
            events = []
            for i in range(200):  # 100 Hz joints, stamped 3 ms before receipt
                stamp = t0 + i * 10_000_000
                msg = T["sensor_msgs/msg/JointState"](
                    header=header(stamp, "base_link"),
                    name=["shoulder", "elbow", "gripper"],
                    position=np.array([np.sin(i / 20 + phase), np.cos(i / 30), 0.01 * (i % 7)]),
                    velocity=np.array([0.1, -0.2, 0.0]),
                    effort=np.array([], dtype=np.float64),
                )
                events.append((stamp + 3_000_000, js, store.serialize_cdr(msg, msg.__msgtype__)))
                q = T["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=np.sin(i / 40), w=np.cos(i / 40))
                v = T["geometry_msgs/msg/Vector3"](x=0.1 * i, y=0.0, z=0.5)
                ts = T["geometry_msgs/msg/TransformStamped"](
                    header=header(stamp, "base_link"),
                    child_frame_id="tool0",
                    transform=T["geometry_msgs/msg/Transform"](translation=v, rotation=q),
                )
                m = T["tf2_msgs/msg/TFMessage"](transforms=[ts])
                events.append((stamp + 1_000_000, tf, store.serialize_cdr(m, m.__msgtype__)))
            for i, jpg in enumerate(frames):  # 30 Hz camera
                stamp = t0 + i * 33_333_333
                m = T["sensor_msgs/msg/CompressedImage"](
                    header=header(stamp, "cam_high_optical"), format="jpeg", data=jpg
                )
                events.append((stamp + 20_000_000, cam, store.serialize_cdr(m, m.__msgtype__)))
            PF = T["sensor_msgs/msg/PointField"]
            for i in range(4):  # 10 Hz LiDAR, 64 points x,y,z,intensity f32
                stamp = t0 + i * 100_000_000
                pts = np.zeros((64, 4), np.float32)
                pts[:, 0] = np.cos(np.arange(64) / 10) * (5 + i)
                pts[:, 1] = np.sin(np.arange(64) / 10) * (5 + i)
                pts[:, 2] = 0.1 * i
                pts[:, 3] = np.arange(64)
                m = T["sensor_msgs/msg/PointCloud2"](
                    header=header(stamp, "velodyne"),
                    height=1,
                    width=64,
                    fields=[PF(name=n, offset=4 * k, datatype=7, count=1) for k, n in enumerate("xyz") ]
                    + [PF(name="intensity", offset=12, datatype=7, count=1)],
                    is_bigendian=False,
                    point_step=16,
                    row_step=16 * 64,
                    data=np.frombuffer(pts.tobytes(), np.uint8),
                    is_dense=True,
                )
                events.append((stamp + 50_000_000, pc, store.serialize_cdr(m, m.__msgtype__)))
            for i in range(10):
                stamp = t0 + i * 200_000_000
                m = T["reel_test_msgs/msg/Gripper"](
                    header=header(stamp, "tool0"),
                    opening_m=0.01 * i,
                    state="open" if i % 2 else "closed",
                    raw=np.arange(i, dtype=np.uint8),
                )
                events.append((stamp + 500_000, grip, store.serialize_cdr(m, m.__msgtype__)))
            events.sort(key=lambda e: e[0])
            for t, conn, data in events:
                w.write(conn, t, data)
    print(json.dumps({"bags": [str(out / "robot_db3"), str(out / "robot_mcap")]}))


def plain(v):
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if hasattr(v, "__dataclass_fields__"):
        return {k: plain(getattr(v, k)) for k in v.__dataclass_fields__ if k != "__msgtype__"}
    return v


def read_rosbags(path: Path):
    """{topic: [(log_time, bytes, decoded, type)]} read by rosbags."""
    from rosbags.highlevel import AnyReader

    store = typestore_with_custom()
    out = {}
    with AnyReader([path], default_typestore=store) as r:
        for conn, t, raw in r.messages():
            try:
                decoded = plain(r.deserialize(raw, conn.msgtype))
            except Exception as e:  # a type rosbags cannot decode: bytes only
                decoded = f"undecodable: {e}"
            out.setdefault(conn.topic, []).append((t, bytes(raw), decoded, conn.msgtype))
    return out


def read_mcap(path: Path):
    """{topic: [(log_time, publish_time, bytes)]} read by the mcap package."""
    from mcap.reader import make_reader

    out = {}
    with open(path, "rb") as f:
        for schema, channel, message in make_reader(f).iter_messages():
            out.setdefault(channel.topic, []).append(
                (message.log_time, message.publish_time, bytes(message.data))
            )
    return out


def compare(src: Path, episode: Path, mapping: dict):
    source = read_rosbags(src)
    ep = read_rosbags(episode)
    ep_mcap = read_mcap(episode)
    problems = []
    summary = {}
    for topic, msgs in source.items():
        to = mapping.get(topic, topic)
        got = ep.get(to, [])
        if len(got) != len(msgs):
            problems.append(f"{topic} -> {to}: {len(msgs)} messages in the source, {len(got)} imported")
            continue
        same_bytes = sum(a[1] == b[1] for a, b in zip(msgs, got))
        same_values = sum(a[2] == b[2] for a, b in zip(msgs, got))
        same_time = sum(a[0] == b[0] for a, b in zip(msgs, got))
        stamped = 0
        for (log, pub, data), m in zip(ep_mcap.get(to, []), msgs):
            d = m[2]
            if isinstance(d, dict) and isinstance(d.get("header"), dict):
                s = d["header"]["stamp"]
                if pub != s["sec"] * 10**9 + s["nanosec"]:
                    problems.append(f"{to}: publish_time {pub} is not header.stamp")
                    break
                stamped += 1
        n = len(msgs)
        if same_bytes != n or same_values != n or same_time != n:
            problems.append(
                f"{topic} -> {to}: bytes {same_bytes}/{n}, values {same_values}/{n}, log times {same_time}/{n}"
            )
        summary[topic] = {"to": to, "type": msgs[0][3], "messages": n, "same_bytes": same_bytes,
                          "same_values": same_values, "publish_time_is_stamp": stamped}
    for p in problems:
        print("MISMATCH", p, file=sys.stderr)
    print(json.dumps({"topics": summary, "problems": problems}))
    return 1 if problems else 0


def counts(src: Path):
    meta = None
    yaml_path = src / "metadata.yaml" if src.is_dir() else None
    if yaml_path is not None and yaml_path.exists():
        from ruamel.yaml import YAML

        info = YAML(typ="safe").load(yaml_path.read_text())["rosbag2_bagfile_information"]
        meta = {
            t["topic_metadata"]["name"]: t["message_count"] for t in info["topics_with_message_count"]
        }
    files = sorted(src.glob("*.mcap"), key=split_order) if src.is_dir() else [src]
    read = {}
    if files:
        for f in files:
            for topic, msgs in read_mcap(f).items():
                read[topic] = read.get(topic, 0) + len(msgs)
    else:
        read = {topic: len(msgs) for topic, msgs in read_rosbags(src).items()}
    print(json.dumps({"metadata": meta, "data": read}))
    return 0


def split_order(path: Path):
    import re

    stem = path.stem
    m = re.search(r"(\d+)$", stem)
    return (stem[: m.start()] if m else stem, int(m.group(1)) if m else 0, str(path))


def same_bytes(src: Path, episode: Path, mapping: dict):
    files = sorted(src.glob("*.mcap"), key=split_order) if src.is_dir() else [src]
    source = {}
    for f in files:
        for topic, msgs in read_mcap(f).items():
            source.setdefault(topic, []).extend(msgs)
    ep = read_mcap(episode)
    problems = []
    summary = {}
    for topic, msgs in source.items():
        to = mapping.get(topic, topic)
        got = ep.get(to, [])
        same = sum(a[0] == b[0] and a[2] == b[2] for a, b in zip(msgs, got))
        if len(got) != len(msgs) or same != len(msgs):
            problems.append(f"{topic} -> {to}: {same} of {len(msgs)} source messages identical, {len(got)} imported")
        summary[topic] = {"to": to, "messages": len(msgs), "identical": same}
    print(json.dumps({"topics": summary, "files": [str(f) for f in files], "problems": problems}))
    return 1 if problems else 0


def make_big(out: Path, megabytes: int):
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    store = get_typestore(Stores.ROS2_HUMBLE)
    T = store.types
    Time, Header = T["builtin_interfaces/msg/Time"], T["std_msgs/msg/Header"]
    rng = np.random.default_rng(7)
    # Each frame a different 100 kB slice of 64 MB of noise: like JPEG, no
    # frame repeats another within a compressor's reach.
    noise = rng.integers(0, 256, 64 << 20, dtype=np.uint8)
    cloud = rng.random((30_000, 4), dtype=np.float32)
    PF = T["sensor_msgs/msg/PointField"]
    fields = [PF(name=n, offset=4 * k, datatype=7, count=1) for k, n in enumerate(["x", "y", "z", "intensity"])]
    t0 = 1_700_000_000_000_000_000

    def header(ns, frame):
        return Header(stamp=Time(sec=ns // 10**9, nanosec=ns % 10**9), frame_id=frame)

    written = 0
    with Writer(out, version=9, storage_plugin=StoragePlugin.MCAP) as w:
        js = w.add_connection("/joint_states", "sensor_msgs/msg/JointState", typestore=store)
        tf = w.add_connection("/tf", "tf2_msgs/msg/TFMessage", typestore=store)
        cams = [w.add_connection(f"/cam_{c}/image_raw/compressed", "sensor_msgs/msg/CompressedImage", typestore=store) for c in ("high", "left", "right")]
        pc = w.add_connection("/velodyne_points", "sensor_msgs/msg/PointCloud2", typestore=store)
        tick = 0  # 2 ms
        while written < megabytes * 1_000_000:
            t = t0 + tick * 2_000_000
            m = T["sensor_msgs/msg/JointState"](header=header(t, "base"), name=[f"j{i}" for i in range(7)],
                position=rng.random(7), velocity=rng.random(7), effort=rng.random(7))
            data = store.serialize_cdr(m, m.__msgtype__); w.write(js, t + 500_000, data); written += len(data)
            q = T["geometry_msgs/msg/Quaternion"](x=0.0, y=0.0, z=0.0, w=1.0)
            v = T["geometry_msgs/msg/Vector3"](x=0.1, y=0.0, z=0.5)
            ts = T["geometry_msgs/msg/TransformStamped"](header=header(t, "base"), child_frame_id="tool0",
                transform=T["geometry_msgs/msg/Transform"](translation=v, rotation=q))
            m = T["tf2_msgs/msg/TFMessage"](transforms=[ts])
            data = store.serialize_cdr(m, m.__msgtype__); w.write(tf, t + 600_000, data); written += len(data)
            if tick % 17 == 0:  # ~30 Hz
                for k, cam in enumerate(cams):
                    at = int(rng.integers(0, len(noise) - 100_000))
                    m = T["sensor_msgs/msg/CompressedImage"](header=header(t, f"cam{k}"), format="jpeg",
                        data=noise[at:at + 100_000])
                    data = store.serialize_cdr(m, m.__msgtype__); w.write(cam, t + 20_000_000, data); written += len(data)
            if tick % 50 == 0:  # 10 Hz
                m = T["sensor_msgs/msg/PointCloud2"](header=header(t, "velodyne"), height=1, width=30_000,
                    fields=fields, is_bigendian=False, point_step=16, row_step=480_000,
                    data=np.frombuffer(cloud.tobytes(), np.uint8), is_dense=True)
                data = store.serialize_cdr(m, m.__msgtype__); w.write(pc, t + 50_000_000, data); written += len(data)
            tick += 1
    print(json.dumps({"bag": str(out), "message_bytes": written, "seconds_recorded": tick * 0.002}))


def read_with_rosbags(src: Path):
    import time

    from rosbags.highlevel import AnyReader

    started = time.monotonic()
    n = size = 0
    with AnyReader([src]) as r:
        for _conn, _t, raw in r.messages():
            n += 1
            size += len(raw)
    print(json.dumps({"messages": n, "bytes": size, "seconds": time.monotonic() - started}))


def rss(cmd):
    import resource
    import subprocess
    import time

    started = time.monotonic()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seconds = time.monotonic() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"seconds": seconds, "max_rss_kb": usage.ru_maxrss, "code": proc.returncode,
                      "stdout": proc.stdout[-4000:], "stderr": proc.stderr[-2000:]}))


def main():
    if sys.argv[1] == "make-big":
        make_big(Path(sys.argv[2]), int(sys.argv[3]))
        return 0
    if sys.argv[1] == "read-rosbags":
        read_with_rosbags(Path(sys.argv[2]))
        return 0
    if sys.argv[1] == "rss":
        rss(sys.argv[2:])
        return 0
    if sys.argv[1] == "bytes":
        return same_bytes(Path(sys.argv[2]), Path(sys.argv[3]), json.loads(sys.argv[4]))
    if sys.argv[1] == "counts":
        return counts(Path(sys.argv[2]))
    if sys.argv[1] == "make-bags":
        make_bags(Path(sys.argv[2]))
        return 0
    if sys.argv[1] == "compare":
        return compare(Path(sys.argv[2]), Path(sys.argv[3]), json.loads(sys.argv[4]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
