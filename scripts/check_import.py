#!/usr/bin/env python3
"""Third-party side of the import tests.

  make-bags OUT      writes rosbag2 bags with the `rosbags` writer (not reel's):
                     OUT/robot_db3 (SQLite3, format 8), OUT/robot_mcap (MCAP,
                     format 9), each with JointState, CompressedImage (real JPEG
                     from OpenCV), PointCloud2, TF and a custom type reel does
                     not know.
  make-aligned OUT   a rosbag2 MCAP bag (rosbags writer) whose joint states,
                     joint commands and camera frames (real JPEG from OpenCV)
                     share one 30 Hz clock: 45 samples each, so an export at
                     30 fps takes every sample as it is.
  roundtrip SRC EP   compares a bag made by make-aligned with an episode
                     that went through import -> LeRobot export -> import:
                     sample k of each stream against message k of the
                     episode; joints within float32 precision, frames by
                     PSNR (both decoded by OpenCV). JSON report; exit 1 when
                     a joint differs by more than 1e-6 relative or a frame's
                     PSNR is under 30 dB.
  lerobot DS EP...   compares a LeRobot dataset (v3.0 or v2.1, read with
                     pyarrow and PyAV, not reel) with the episodes reel
                     imported from it (EP = one .mcap per dataset episode,
                     named *_epNNNNNN.mcap; read with rosbags and OpenCV):
                     state and action exactly (float32 as float64), every
                     frame by PSNR against the dataset's decoded video.
                     Exit 1 when a value differs or a frame is under 33 dB
                     (the JPEG reel stores, quantiser 3 in full-range YUV 4:2:0,
                     of a frame decoded from limited-range AV1).
  make-ros1 OUT      ROS 1 bags by the `rosbags` ROS 1 writer, one per chunk
                     compression (OUT/robot_none.bag, robot_bz2.bag, robot_lz4.bag):
                     JointState, CompressedImage, CameraInfo, PointCloud2, Imu,
                     tf2_msgs/TFMessage, std_msgs/String and a custom type.
  compare-ros1 BAG EP MAP
                     reads the ROS 1 bag (rosbags, ROS 1 typestore) and the
                     imported episode (rosbags, the episode's ROS 2 schemas):
                     every message under its mapped topic with the same values
                     (ROS 1's Header.seq, which ROS 2 has not, left out; CameraInfo
                     D/K/R/P are ROS 2's d/k/r/p) and the same log time, the
                     custom type too (translated from its definition). Exit 1
                     on a difference.
  make-hdf5 OUT      with h5py, an ALOHA episode (OUT/aloha_episode_0.hdf5:
                     qpos/qvel/effort/action T x 14, two 96x72 cameras, attr sim)
                     a robomimic file of two demos (OUT/robomimic.hdf5:
                     robot0_joint_pos/vel, gripper, eef_pos, an 84x84 camera,
                     actions, states), and a file of neither layout
                     (OUT/custom.hdf5).
  compare-hdf5 FILE EP...
                     reads the HDF5 file with h5py and the imported episodes
                     (one per ALOHA file or robomimic demo, named *_demo_N.mcap)
                     with rosbags and OpenCV: every row of every vector dataset
                     exactly, every image within JPEG's loss (PSNR >= 35 dB).
  make-raw-images OUT
                     a rosbag2 bag (rosbags) with two raw sensor_msgs/Image
                     cameras: rgb8 with padded rows, and bgr8.
  compare-raw-images BAG EP
                     each raw frame of the bag against the JPEG frame the
                     episode holds for it (PSNR, OpenCV); exit 1 under 38 dB.
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
                     as the `mcap` package (Python's sqlite3 for .db3) reads the
                     data files; JSON {"metadata": ..., "data": ...}.
  bytes SRC EP MAP   reads the source bag's files (a folder's in split order, or
                     one file; MCAP with the `mcap` package, SQLite3 with Python's
                     sqlite3) and the episode with the `mcap` package: every
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
    read = {topic: len(msgs) for topic, msgs in read_source(src)[0].items()}
    print(json.dumps({"metadata": meta, "data": read}))
    return 0


def read_sqlite(path: Path):
    """{topic: [(timestamp, None, bytes)]} of a rosbag2 .db3, read with the
    Python standard library's sqlite3, in insertion order."""
    import sqlite3

    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    names = dict(db.execute("SELECT id, name FROM topics"))
    out = {}
    for topic_id, t, data in db.execute("SELECT topic_id, timestamp, data FROM messages ORDER BY id"):
        out.setdefault(names[topic_id], []).append((t, None, bytes(data)))
    return out


def read_source(src: Path):
    """Every message of a bag (folder, .mcap or .db3), per topic, in order."""
    if src.is_dir():
        files = sorted(src.glob("*.mcap"), key=split_order) or sorted(src.glob("*.db3"), key=split_order)
    else:
        files = [src]
    out = {}
    for f in files:
        for topic, msgs in (read_sqlite(f) if f.suffix == ".db3" else read_mcap(f)).items():
            out.setdefault(topic, []).extend(msgs)
    return out, files


def split_order(path: Path):
    import re

    stem = path.stem
    m = re.search(r"(\d+)$", stem)
    return (stem[: m.start()] if m else stem, int(m.group(1)) if m else 0, str(path))


def same_bytes(src: Path, episode: Path, mapping: dict):
    source, files = read_source(src)
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


ALIGNED_FRAMES = 45


def make_aligned(out: Path):
    import cv2
    from rosbags.rosbag2 import StoragePlugin, Writer

    store = typestore_with_custom()
    T = store.types
    Time, Header = T["builtin_interfaces/msg/Time"], T["std_msgs/msg/Header"]

    def header(ns, frame):
        return Header(stamp=Time(sec=ns // 10**9, nanosec=ns % 10**9), frame_id=frame)

    t0 = 1_700_000_000_000_000_000
    with Writer(out, version=9, storage_plugin=StoragePlugin.MCAP) as w:
        js = w.add_connection("/follower/joint_states", "sensor_msgs/msg/JointState", typestore=store)
        cmd = w.add_connection("/leader/joint_commands", "sensor_msgs/msg/JointState", typestore=store)
        cam = w.add_connection("/front/image_raw/compressed", "sensor_msgs/msg/CompressedImage", typestore=store)
        events = []
        for k in range(ALIGNED_FRAMES):
            stamp = t0 + k * 10**9 // 30
            pos = np.array([np.sin(k / 9), np.cos(k / 13), 0.02 * (k % 11), -0.5 + k / 100])
            names = ["shoulder_pan", "shoulder_lift", "elbow_flex", "gripper"]
            for conn, values in ((js, pos), (cmd, pos + 0.05)):
                m = T["sensor_msgs/msg/JointState"](header=header(stamp, "base"), name=names, position=values,
                    velocity=np.array([], np.float64), effort=np.array([], np.float64))
                events.append((stamp + 2_000_000, conn, store.serialize_cdr(m, m.__msgtype__)))
            img = np.zeros((96, 128, 3), np.uint8)
            img[:, :, 0] = (np.arange(128) * 2) % 256
            img[:, :, 1] = (np.arange(96)[:, None] * 2) % 256
            cv2.circle(img, (16 + 2 * k, 48), 12, (255, 255, 255), -1)
            cv2.putText(img, str(k), (80, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (0, 0, 0), 2)
            ok, jpg = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 95])
            m = T["sensor_msgs/msg/CompressedImage"](header=header(stamp, "front"), format="jpeg",
                data=np.frombuffer(jpg.tobytes(), np.uint8))
            events.append((stamp + 15_000_000, cam, store.serialize_cdr(m, m.__msgtype__)))
        events.sort(key=lambda e: e[0])
        for t, conn, data in events:
            w.write(conn, t, data)
    print(json.dumps({"bag": str(out), "frames": ALIGNED_FRAMES}))


def roundtrip(src: Path, episode: Path):
    import cv2
    from rosbags.highlevel import AnyReader

    def streams(path):
        out = {}
        with AnyReader([path], default_typestore=typestore_with_custom()) as r:
            for conn, _t, raw in r.messages():
                m = r.deserialize(raw, conn.msgtype)
                if conn.msgtype.endswith("JointState"):
                    out.setdefault(conn.topic, []).append(np.asarray(m.position, np.float64))
                elif conn.msgtype.endswith("CompressedImage"):
                    img = cv2.imdecode(np.asarray(m.data, np.uint8), cv2.IMREAD_COLOR)
                    out.setdefault(conn.topic, []).append(img)
        return out

    a, b = streams(src), streams(episode)
    pairs = {
        "/follower/joint_states": "/robot/arm/joint_states",
        "/leader/joint_commands": "/robot/arm/joint_commands",
        "/front/image_raw/compressed": "/camera/front/image/compressed",
    }
    report, problems = {}, []
    for s_topic, e_topic in pairs.items():
        xs, ys = a.get(s_topic, []), b.get(e_topic, [])
        if len(xs) != len(ys):
            problems.append(f"{s_topic}: {len(xs)} samples in the bag, {e_topic}: {len(ys)} after the round trip")
            continue
        if s_topic.endswith("compressed"):
            psnrs = [cv2.PSNR(x, y) for x, y in zip(xs, ys)]
            report[s_topic] = {"frames": len(xs), "min_psnr_db": min(psnrs), "mean_psnr_db": float(np.mean(psnrs))}
            if min(psnrs) < 30:
                problems.append(f"{s_topic}: a frame at {min(psnrs):.1f} dB")
        else:
            worst = max(float(np.max(np.abs(x - y) / np.maximum(np.abs(x), 1e-3))) for x, y in zip(xs, ys))
            report[s_topic] = {"samples": len(xs), "worst_relative_error": worst}
            if worst > 1e-6:
                problems.append(f"{s_topic}: relative error {worst:.2e}")
    for p in problems:
        print("MISMATCH", p, file=sys.stderr)
    print(json.dumps({"streams": report, "problems": problems}))
    return 1 if problems else 0


def lerobot_compare(root: Path, episodes):
    import av
    import cv2
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    from rosbags.highlevel import AnyReader

    info = json.loads((root / "meta/info.json").read_text())
    fps = info["fps"]
    data = pq.read_table(sorted((root / "data").rglob("*.parquet"))) if info["codebase_version"].startswith("v3") else None
    video_keys = [k for k, f in info["features"].items() if f["dtype"] == "video"]
    ep_meta = pq.read_table(sorted((root / "meta/episodes").rglob("*.parquet"))).to_pylist() if data is not None else None
    report, problems = {}, []
    for path in map(Path, episodes):
        index = int(path.stem.rsplit("_ep", 1)[1])
        if data is not None:
            table = data.filter(pc.equal(data["episode_index"], index))
            row = next(r for r in ep_meta if r["episode_index"] == index)
        else:
            table = pq.read_table(root / f"data/chunk-{index // info['chunks_size']:03d}/episode_{index:06d}.parquet")
            row = None
        table = table.sort_by("frame_index")
        want = {"observation.state": table["observation.state"].to_pylist(), "action": table["action"].to_pylist()}
        frames = {}
        for key in video_keys:
            if row is not None:
                file = root / info["video_path"].format(video_key=key, chunk_index=row[f"videos/{key}/chunk_index"], file_index=row[f"videos/{key}/file_index"])
                lo, hi = row[f"videos/{key}/from_timestamp"], row[f"videos/{key}/to_timestamp"]
            else:
                file = root / info["video_path"].format(episode_chunk=index // info["chunks_size"], video_key=key, episode_index=index)
                lo, hi = 0.0, len(table) / fps
            with av.open(str(file)) as c:
                stream = c.streams.video[0]
                frames[key] = [f.to_ndarray(format="bgr24") for f in c.decode(stream)
                               if lo - 0.5 / fps <= float(f.pts * stream.time_base) < hi - 0.5 / fps]
        got = {}
        with AnyReader([path]) as r:
            for conn, _t, raw in r.messages():
                m = r.deserialize(raw, conn.msgtype)
                if conn.msgtype.endswith("JointState"):
                    got.setdefault(conn.topic, []).append(list(m.position))
                elif conn.msgtype.endswith("CompressedImage"):
                    got.setdefault(conn.topic, []).append(cv2.imdecode(np.asarray(m.data, np.uint8), cv2.IMREAD_COLOR))
        pairs = {"observation.state": "/robot/arm/joint_states", "action": "/robot/arm/joint_commands"}
        entry = {}
        for key, topic in pairs.items():
            a, b = want[key], got.get(topic, [])
            same = sum(np.array_equal(np.asarray(x, np.float32).astype(np.float64), np.asarray(y)) for x, y in zip(a, b))
            entry[key] = {"rows": len(a), "identical": int(same)}
            if same != len(a) or len(b) != len(a):
                problems.append(f"episode {index} {key}: {same} of {len(a)} rows identical, {len(b)} imported")
        for key in video_keys:
            topic = "/camera/" + key.removeprefix("observation.images.").replace(".", "_") + "/image/compressed"
            a, b = frames[key], got.get(topic, [])
            psnr = [cv2.PSNR(x, y) for x, y in zip(a, b)]
            entry[key] = {"frames": len(a), "imported": len(b), "min_psnr_db": min(psnr) if psnr else None}
            if len(a) != len(b) or not psnr or min(psnr) < 33:
                problems.append(f"episode {index} {key}: {len(a)} frames, {len(b)} imported, min PSNR {min(psnr) if psnr else None}")
        report[str(index)] = entry
    for p in problems:
        print("MISMATCH", p, file=sys.stderr)
    print(json.dumps({"episodes": report, "problems": problems}))
    return 1 if problems else 0


ROS1_CUSTOM = "Header header\nfloat64 opening_m\nstring state\n"


def ros1_store():
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    store = get_typestore(Stores.ROS1_NOETIC)
    store.register(get_types_from_msg(ROS1_CUSTOM, "reel_test_msgs/msg/Gripper"))
    # tf2_msgs is not in rosbags' Noetic store; its definition is one line.
    store.register(get_types_from_msg("geometry_msgs/TransformStamped[] transforms", "tf2_msgs/msg/TFMessage"))
    return store


def make_ros1(out: Path):
    import cv2
    from rosbags.rosbag1 import Writer

    store = ros1_store()
    T = store.types
    Time, Header = T["builtin_interfaces/msg/Time"], T["std_msgs/msg/Header"]

    def header(i, ns, frame):
        return Header(seq=i, stamp=Time(sec=ns // 10**9, nanosec=ns % 10**9), frame_id=frame)

    ok, jpg = cv2.imencode(".jpg", np.full((48, 64, 3), 90, np.uint8))
    t0 = 1_600_000_000_000_000_000
    out.mkdir(parents=True, exist_ok=True)
    bags = []
    for name, compression in (("none", None), ("bz2", Writer.CompressionFormat.BZ2), ("lz4", Writer.CompressionFormat.LZ4)):
        path = out / f"robot_{name}.bag"
        w = Writer(path)
        if compression is not None:
            w.set_compression(compression)
        with w:
            c = {
                "js": w.add_connection("/joint_states", "sensor_msgs/msg/JointState", typestore=store),
                "img": w.add_connection("/usb_cam/image_raw/compressed", "sensor_msgs/msg/CompressedImage", typestore=store),
                "info": w.add_connection("/usb_cam/camera_info", "sensor_msgs/msg/CameraInfo", typestore=store),
                "pc": w.add_connection("/velodyne_points", "sensor_msgs/msg/PointCloud2", typestore=store),
                "imu": w.add_connection("/imu/data", "sensor_msgs/msg/Imu", typestore=store),
                "tf": w.add_connection("/tf", "tf2_msgs/msg/TFMessage", typestore=store),
                "str": w.add_connection("/operator/notes", "std_msgs/msg/String", typestore=store),
                "grip": w.add_connection("/gripper/status", "reel_test_msgs/msg/Gripper", typestore=store, msgdef=ROS1_CUSTOM),
            }
            events = []
            def add(key, i, stamp, msg):
                events.append((stamp + 1_000_000 + i, c[key], store.serialize_ros1(msg, msg.__msgtype__)))
            PF = T["sensor_msgs/msg/PointField"]
            V3, Q = T["geometry_msgs/msg/Vector3"], T["geometry_msgs/msg/Quaternion"]
            for i in range(60):
                s = t0 + i * 20_000_000
                add("js", i, s, T["sensor_msgs/msg/JointState"](header=header(i, s, "base"), name=["a", "b"],
                    position=np.array([np.sin(i / 7), 1.5 + i / 100]), velocity=np.array([0.1, 0.2]), effort=np.array([], np.float64)))
                add("imu", i, s, T["sensor_msgs/msg/Imu"](header=header(i, s, "imu"), orientation=Q(x=0.0, y=0.0, z=np.sin(i / 50), w=np.cos(i / 50)),
                    orientation_covariance=np.arange(9, dtype=np.float64), angular_velocity=V3(x=0.01 * i, y=0.0, z=-0.1),
                    angular_velocity_covariance=np.zeros(9), linear_acceleration=V3(x=0.0, y=0.0, z=9.81), linear_acceleration_covariance=np.ones(9)))
                ts = T["geometry_msgs/msg/TransformStamped"](header=header(i, s, "base"), child_frame_id="tool",
                    transform=T["geometry_msgs/msg/Transform"](translation=V3(x=0.1 * i, y=0.0, z=0.3), rotation=Q(x=0.0, y=0.0, z=0.0, w=1.0)))
                add("tf", i, s, T["tf2_msgs/msg/TFMessage"](transforms=[ts, ts]))
                if i % 6 == 0:
                    add("img", i, s, T["sensor_msgs/msg/CompressedImage"](header=header(i, s, "cam"), format="jpeg", data=np.frombuffer(jpg.tobytes(), np.uint8)))
                    add("info", i, s, T["sensor_msgs/msg/CameraInfo"](header=header(i, s, "cam"), height=48, width=64, distortion_model="plumb_bob",
                        D=np.array([0.1, -0.2, 0.0, 0.0, 0.05]), K=np.array([60.0, 0, 32, 0, 60, 24, 0, 0, 1]), R=np.eye(3).ravel(),
                        P=np.array([60.0, 0, 32, 0, 0, 60, 24, 0, 0, 0, 1, 0]), binning_x=0, binning_y=0,
                        roi=T["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)))
                if i % 10 == 0:
                    pts = np.arange(32 * 4, dtype=np.float32) + i
                    add("pc", i, s, T["sensor_msgs/msg/PointCloud2"](header=header(i, s, "velodyne"), height=1, width=32,
                        fields=[PF(name=n, offset=4 * k, datatype=7, count=1) for k, n in enumerate(["x", "y", "z", "intensity"])],
                        is_bigendian=False, point_step=16, row_step=512, data=np.frombuffer(pts.tobytes(), np.uint8), is_dense=True))
                    add("str", i, s, T["std_msgs/msg/String"](data=f"note {i}"))
                    add("grip", i, s, T["reel_test_msgs/msg/Gripper"](header=header(i, s, "tool"), opening_m=0.01 * i, state="open"))
            events.sort(key=lambda e: e[0])
            for t, conn, data in events:
                w.write(conn, t, data)
        bags.append(str(path))
    print(json.dumps({"bags": bags}))


def normalized(v):
    if isinstance(v, dict):
        return {k.lower(): normalized(x) for k, x in v.items() if k != "seq"}
    if isinstance(v, list):
        return [normalized(x) for x in v]
    return v


def compare_ros1(bag: Path, episode: Path, mapping: dict):
    from rosbags.highlevel import AnyReader

    src = {}
    store = ros1_store()
    with AnyReader([bag], default_typestore=store) as r:
        for conn, t, raw in r.messages():
            src.setdefault(conn.topic, []).append((t, normalized(plain(r.deserialize(raw, conn.msgtype))), bytes(raw), conn.msgtype))
    ep = {}
    with AnyReader([episode]) as r:
        for conn, t, raw in r.messages():
            try:
                value = normalized(plain(r.deserialize(raw, conn.msgtype)))
            except Exception as e:  # a ROS 1 encoded channel
                value = f"undecodable: {type(e).__name__}"
            ep.setdefault(conn.topic, []).append((t, value, bytes(raw), conn.msgtype))
    problems, summary = [], {}
    for topic, msgs in src.items():
        to = mapping.get(topic, topic)
        got = ep.get(to, [])
        if len(got) != len(msgs):
            problems.append(f"{topic}: {len(msgs)} in the bag, {len(got)} imported")
            continue
        same = sum(a[1] == b[1] for a, b in zip(msgs, got))
        times = sum(a[0] == b[0] for a, b in zip(msgs, got))
        summary[topic] = {"to": to, "messages": len(msgs), "same": same, "same_log_time": times, "type": got[0][3]}
        if same != len(msgs) or times != len(msgs):
            problems.append(f"{topic}: {same}/{len(msgs)} same, {times} same log times")
    for p in problems:
        print("MISMATCH", p, file=sys.stderr)
    print(json.dumps({"topics": summary, "problems": problems}))
    return 1 if problems else 0


def make_hdf5(out: Path):
    import h5py

    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    T = 60

    def frames(t, h, w, seed):
        img = np.zeros((t, h, w, 3), np.uint8)
        for i in range(t):
            img[i, :, :, 0] = (np.arange(w) * 2 + i * 3 + seed) % 256
            img[i, :, :, 1] = (np.arange(h)[:, None] * 3) % 256
            img[i, 10 + i % 20 : 30 + i % 20, 20:40, 2] = 255
        return img

    with h5py.File(out / "aloha_episode_0.hdf5", "w") as f:
        f.attrs["sim"] = True
        qpos = np.cumsum(rng.normal(0, 0.01, (T, 14)), axis=0)
        f.create_dataset("observations/qpos", data=qpos)
        f.create_dataset("observations/qvel", data=np.gradient(qpos, axis=0) * 50)
        f.create_dataset("observations/effort", data=rng.normal(0, 1, (T, 14)))
        f.create_dataset("action", data=qpos + 0.01)
        for k, cam in enumerate(["top", "left_wrist"]):
            f.create_dataset(f"observations/images/{cam}", data=frames(T, 72, 96, 40 * k), chunks=(1, 72, 96, 3))
    with h5py.File(out / "robomimic.hdf5", "w") as f:
        data = f.create_group("data")
        data.attrs["env_args"] = json.dumps({"env_name": "Lift", "type": 1})
        total = 0
        for d in range(2):
            n = T - 10 * d
            g = data.create_group(f"demo_{d}")
            g.attrs["num_samples"] = n
            jp = np.cumsum(rng.normal(0, 0.02, (n, 7)), axis=0).astype(np.float64)
            g.create_dataset("obs/robot0_joint_pos", data=jp)
            g.create_dataset("obs/robot0_joint_vel", data=np.gradient(jp, axis=0) * 20)
            g.create_dataset("obs/robot0_gripper_qpos", data=np.stack([np.linspace(0.04, 0.0, n)] * 2, 1))
            g.create_dataset("obs/robot0_eef_pos", data=rng.normal(0, 0.1, (n, 3)).astype(np.float32))
            g.create_dataset("obs/agentview_image", data=frames(n, 84, 84, 70 * d))
            g.create_dataset("actions", data=rng.uniform(-1, 1, (n, 7)))
            g.create_dataset("states", data=rng.normal(0, 1, (n, 32)))
            total += n
        data.attrs["total"] = total
    # ACT's `compress` option: each frame a JPEG (cv2.imencode), rows
    # zero-padded to the longest, lengths in /compress_len.
    import cv2

    with h5py.File(out / "aloha_compressed_episode_0.hdf5", "w") as f:
        f.attrs["sim"] = False
        f.attrs["compress"] = True
        qpos = np.cumsum(rng.normal(0, 0.01, (T, 14)), axis=0)
        f.create_dataset("observations/qpos", data=qpos)
        f.create_dataset("action", data=qpos)
        encoded = [cv2.imencode(".jpg", im, [int(cv2.IMWRITE_JPEG_QUALITY), 50])[1].ravel() for im in frames(T, 72, 96, 5)]
        width = max(len(e) for e in encoded)
        rows = np.zeros((T, width), np.uint8)
        for i, e in enumerate(encoded):
            rows[i, : len(e)] = e
        f.create_dataset("observations/images/top", data=rows)
        f.create_dataset("compress_len", data=np.array([[len(e) for e in encoded]]))
    with h5py.File(out / "custom.hdf5", "w") as f:
        f.create_dataset("robot/joint_positions", data=np.cumsum(rng.normal(0, 0.02, (T, 6)), axis=0))
        f.create_dataset("robot/commands", data=rng.normal(0, 0.1, (T, 6)))
        f.create_dataset("sensors/front_rgb", data=frames(T, 72, 96, 11))
        f.create_dataset("meta/notes", data=np.arange(3))
    print(json.dumps({"aloha": str(out / "aloha_episode_0.hdf5"), "robomimic": str(out / "robomimic.hdf5"),
                      "custom": str(out / "custom.hdf5"), "aloha_compressed": str(out / "aloha_compressed_episode_0.hdf5")}))


def compare_hdf5(path: Path, episodes):
    import cv2
    import h5py
    from rosbags.highlevel import AnyReader

    problems, report = [], {}
    with h5py.File(path, "r") as f:
        for ep in map(Path, episodes):
            group = f["data/demo_" + ep.stem.rsplit("_demo_", 1)[1]] if "_demo_" in ep.stem else f
            got = {}
            with AnyReader([ep]) as r:
                for conn, _t, raw in r.messages():
                    m = r.deserialize(raw, conn.msgtype)
                    if conn.msgtype.endswith("JointState"):
                        got.setdefault(conn.topic, []).append(np.asarray(m.position))
                    elif conn.msgtype.endswith("CompressedImage"):
                        got.setdefault(conn.topic, []).append(cv2.cvtColor(cv2.imdecode(np.asarray(m.data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB))
            entry = {}
            # Every dataset of the episode, under whichever topic holds its rows.
            def visit(name, obj):
                if not isinstance(obj, h5py.Dataset):
                    return
                a = obj[()]
                if name.startswith("observations/images/") and a.ndim == 2 and a.dtype == np.uint8:
                    # JPEG rows: decoded by OpenCV, as ACT's loader does.
                    a = np.stack([cv2.cvtColor(cv2.imdecode(row, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB) for row in a])
                if name == "compress_len":
                    return
                if a.ndim == 4:
                    topics = [t for t, v in got.items() if len(v) == len(a) and v[0].shape == a[0].shape]
                    best = max((min(cv2.PSNR(x, y) for x, y in zip(a, got[t])), t) for t in topics) if topics else (None, None)
                    entry[name] = {"frames": len(a), "topic": best[1], "min_psnr_db": best[0]}
                    if best[0] is None or best[0] < 35:
                        problems.append(f"{ep.name} {name}: no topic holds its frames within 35 dB ({best})")
                elif a.ndim == 2 and name.split("/")[-1] not in ("qvel", "effort", "robot0_joint_vel"):
                    rows = a.astype(np.float64)
                    topic = next((t for t, v in got.items() if len(v) == len(rows) and all(np.array_equal(x, y) for x, y in zip(rows, v))), None)
                    entry[name] = {"rows": len(rows), "topic": topic}
                    if topic is None:
                        problems.append(f"{ep.name} {name}: no topic holds its {len(rows)} rows exactly")
            group.visititems(visit)
            report[ep.name] = entry
    for p in problems:
        print("MISMATCH", p, file=sys.stderr)
    print(json.dumps({"episodes": report, "problems": problems}))
    return 1 if problems else 0


def make_raw_images(out: Path):
    from rosbags.rosbag2 import StoragePlugin, Writer

    store = typestore_with_custom()
    T = store.types
    Time, Header = T["builtin_interfaces/msg/Time"], T["std_msgs/msg/Header"]
    t0 = 1_700_000_000_000_000_000
    with Writer(out, version=9, storage_plugin=StoragePlugin.MCAP) as w:
        cams = {
            "rgb8": w.add_connection("/front/image_raw", "sensor_msgs/msg/Image", typestore=store),
            "bgr8": w.add_connection("/wrist/color/image_raw", "sensor_msgs/msg/Image", typestore=store),
        }
        for i in range(10):
            t = t0 + i * 33_333_333
            for enc, conn in cams.items():
                h, wdt = 72, 96
                img = np.zeros((h, wdt, 3), np.uint8)
                img[:, :, 0] = (np.arange(wdt) * 2 + i * 5) % 256
                img[:, :, 1] = (np.arange(h)[:, None] * 3) % 256
                img[20:40, 10 + i * 4 : 30 + i * 4, 2] = 200
                step = wdt * 3 + (8 if enc == "rgb8" else 0)
                rows = np.zeros((h, step), np.uint8)
                rows[:, : wdt * 3] = img.reshape(h, wdt * 3)
                m = T["sensor_msgs/msg/Image"](header=Header(stamp=Time(sec=t // 10**9, nanosec=t % 10**9), frame_id=enc),
                    height=h, width=wdt, encoding=enc, is_bigendian=0, step=step, data=rows.ravel())
                w.write(conn, t + 1_000_000, store.serialize_cdr(m, m.__msgtype__))
    print(json.dumps({"bag": str(out)}))


def compare_raw_images(bag: Path, episode: Path):
    import cv2
    from rosbags.highlevel import AnyReader

    raw = {}
    with AnyReader([bag], default_typestore=typestore_with_custom()) as r:
        for conn, t, data in r.messages():
            m = r.deserialize(data, conn.msgtype)
            rows = np.asarray(m.data, np.uint8).reshape(m.height, m.step)[:, : m.width * 3].reshape(m.height, m.width, 3)
            bgr = rows[:, :, ::-1] if m.encoding == "rgb8" else rows
            raw.setdefault(m.header.frame_id, []).append(np.ascontiguousarray(bgr))
    got = {}
    with AnyReader([episode]) as r:
        for conn, t, data in r.messages():
            m = r.deserialize(data, conn.msgtype)
            got.setdefault(m.header.frame_id, []).append((conn.topic, m.format, cv2.imdecode(np.asarray(m.data, np.uint8), cv2.IMREAD_COLOR)))
    report, problems = {}, []
    for frame, imgs in raw.items():
        ep = got.get(frame, [])
        psnr = [cv2.PSNR(a, b[2]) for a, b in zip(imgs, ep)]
        report[frame] = {"frames": len(imgs), "imported": len(ep), "topic": ep[0][0] if ep else None,
                         "format": ep[0][1] if ep else None, "min_psnr_db": min(psnr) if psnr else None}
        if len(ep) != len(imgs) or not psnr or min(psnr) < 38:
            problems.append(f"{frame}: {report[frame]}")
    print(json.dumps({"cameras": report, "problems": problems}))
    return 1 if problems else 0


def main():
    if sys.argv[1] == "make-raw-images":
        make_raw_images(Path(sys.argv[2]))
        return 0
    if sys.argv[1] == "compare-raw-images":
        return compare_raw_images(Path(sys.argv[2]), Path(sys.argv[3]))
    if sys.argv[1] == "make-hdf5":
        make_hdf5(Path(sys.argv[2]))
        return 0
    if sys.argv[1] == "compare-hdf5":
        return compare_hdf5(Path(sys.argv[2]), sys.argv[3:])
    if sys.argv[1] == "make-ros1":
        make_ros1(Path(sys.argv[2]))
        return 0
    if sys.argv[1] == "compare-ros1":
        return compare_ros1(Path(sys.argv[2]), Path(sys.argv[3]), json.loads(sys.argv[4]))
    if sys.argv[1] == "lerobot":
        return lerobot_compare(Path(sys.argv[2]), sys.argv[3:])
    if sys.argv[1] == "make-aligned":
        make_aligned(Path(sys.argv[2]))
        return 0
    if sys.argv[1] == "roundtrip":
        return roundtrip(Path(sys.argv[2]), Path(sys.argv[3]))
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
