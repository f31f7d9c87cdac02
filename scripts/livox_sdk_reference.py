#!/usr/bin/env python3
"""Livox-SDK2 itself as the reference for reel's Livox driver and emulator.

    livox_sdk_reference.py MODEL LIDAR_IP OUT_DIR [--rate HZ] [--quiet-ms MS]

Starts Livox's own SDK (Livox-SDK2 1.3, the shared library the `py-livox2`
wheel ships) configured, as its `mid360_config.json` / `hap_config.json`
are, for one lidar of MODEL (`MID360` or `HAP`) at LIDAR_IP sending to this
host on 127.0.0.1. The SDK takes a lidar's data only from that address and
the model's own data ports (56300/56400 for a Mid-360, 57000/58000 for a
HAP). Prints `ready POINT_PORT IMU_PORT` (the host ports it listens on)
and collects what the SDK hands its point cloud and IMU callbacks until
nothing arrives for --quiet-ms (default 700) after the first packet.

OUT_DIR/packets.bin, OUT_DIR/imu_packets.bin: per packet the SDK delivered,
  u64 arrival time (ns) | u32 length | payload, little endian.
OUT_DIR/reference.bin: the points decoded as livox_ros_driver2 decodes them
  (`pub_handler.cpp`: Cartesian mm / 1000 or cm / 100, spherical through
  sin/cos of theta and phi; intensity = reflectivity; line = index mod the
  model's lines), in scans of 1/--rate s of sensor time (the window of a
  packet's first point, as the driver publishes time-synchronised frames);
  points with no return, (0, 0, 0), are counted and left out.
  b"REELREF1" | u32 scans | per scan: u32 points | points × (f32 x, y, z,
  intensity | u16 ring | u8 return_type (0) | u8 0).
OUT_DIR/reference.json: SDK version, device types and lidar addresses the
  SDK reported, packet counts, points without a return, IMU samples
  ([timestamp ns, gyro xyz rad/s, acc xyz g] each).
"""

import argparse
import ctypes
import importlib.metadata
import json
import math
import os
import socket
import struct
import sys
import threading
import time
from pathlib import Path

MODELS = {
    # config key: (data ports (point, imu), lines as livox_ros_driver2 counts them)
    "MID360": ((56300, 56400), 4),
    "HAP": ((57000, 58000), 6),
}
CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_uint32, ctypes.c_uint8, ctypes.c_void_p, ctypes.c_void_p)
HEADER = struct.Struct("<BHHHHBBB12sIQ")  # LivoxLidarEthernetPacket up to data (36 bytes)


def sdk_library():
    files = [f for f in importlib.metadata.files("py-livox2") if f.name == "liblivox_lidar_sdk_shared.so"]
    if not files:
        raise SystemExit("py-livox2 ships no liblivox_lidar_sdk_shared.so")
    return ctypes.CDLL(str(files[0].locate()))


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def decode_points(payload, lines):
    """livox_ros_driver2's PointXyzlt of one packet: (x, y, z, reflectivity, line, tag)."""
    _v, length, _ti, dot_num, _cnt, _frame, data_type, _tt, _r, _crc, _ts = HEADER.unpack_from(payload)
    data = payload[HEADER.size:length]
    points = []
    for i in range(dot_num):
        if data_type == 1:
            x, y, z, refl, tag = struct.unpack_from("<iiiBB", data, 14 * i)
            xyz = (x / 1000.0, y / 1000.0, z / 1000.0)
        elif data_type == 2:
            x, y, z, refl, tag = struct.unpack_from("<hhhBB", data, 8 * i)
            xyz = (x / 100.0, y / 100.0, z / 100.0)
        elif data_type == 3:
            depth, theta, phi, refl, tag = struct.unpack_from("<IHHBB", data, 10 * i)
            r, t, p = depth / 1000.0, theta / 100.0 / 180 * math.pi, phi / 100.0 / 180 * math.pi
            xyz = (r * math.sin(t) * math.cos(p), r * math.sin(t) * math.sin(p), r * math.cos(t))
        else:
            raise SystemExit(f"data type {data_type} on the point cloud callback")
        points.append((*xyz, refl, i % lines, tag))
    return points


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model", choices=sorted(MODELS))
    ap.add_argument("lidar_ip")
    ap.add_argument("out")
    ap.add_argument("--rate", type=float, default=10.0)
    ap.add_argument("--quiet-ms", type=float, default=700.0)
    args = ap.parse_args()
    (lidar_point, lidar_imu), lines = MODELS[args.model]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    point_port, imu_port = free_port(), free_port()
    host = {
        "host_ip": "127.0.0.1",
        "cmd_data_port": free_port(),
        "push_msg_port": free_port(),
        "point_data_port": point_port,
        "imu_data_port": imu_port,
        "log_data_port": free_port(),
        "lidar_ip": [args.lidar_ip],
    }
    config = {
        args.model: {
            "lidar_net_info": {
                "cmd_data_port": 56100 if args.model == "MID360" else 56000,
                "push_msg_port": 56200 if args.model == "MID360" else 0,
                "point_data_port": lidar_point,
                "imu_data_port": lidar_imu,
                "log_data_port": 56500 if args.model == "MID360" else 59000,
            },
            "host_net_info": [host],
        }
    }
    (out / "sdk_config.json").write_text(json.dumps(config, indent=1))

    lock = threading.Lock()
    received = {"points": [], "imu": [], "devices": set(), "last": None}

    def on_packet(kind):
        def callback(handle, dev_type, data, _client):
            now = time.monotonic_ns()
            length = struct.unpack_from("<H", ctypes.string_at(data, 3), 1)[0]
            payload = ctypes.string_at(data, length)
            ip = socket.inet_ntoa(struct.pack("<I", handle))
            with lock:
                received[kind].append((now, payload))
                received["devices"].add((int(dev_type), ip))
                received["last"] = now

        return CALLBACK(callback)

    on_points, on_imu = on_packet("points"), on_packet("imu")
    lib = sdk_library()
    lib.LivoxLidarSdkInit.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p]
    lib.LivoxLidarSdkInit.restype = ctypes.c_bool
    lib.LivoxLidarSdkStart.restype = ctypes.c_bool
    lib.DisableLivoxSdkConsoleLogger()
    os.chdir(out)  # the SDK writes its logs to the working directory
    if not lib.LivoxLidarSdkInit(b"sdk_config.json", b"", None):
        raise SystemExit("Livox-SDK2 refused its configuration")
    lib.SetLivoxLidarPointCloudCallBack(on_points, None)
    lib.SetLivoxLidarImuDataCallback(on_imu, None)
    if not lib.LivoxLidarSdkStart():
        raise SystemExit("Livox-SDK2 did not start")
    print(f"ready {point_port} {imu_port}", flush=True)

    deadline = time.monotonic_ns() + 30_000_000_000
    while time.monotonic_ns() < deadline:
        time.sleep(0.05)
        with lock:
            last = received["last"]
        if last is not None and time.monotonic_ns() - last > args.quiet_ms * 1e6:
            break
    with lock:
        points, imu, devices = list(received["points"]), list(received["imu"]), set(received["devices"])

    for name, packets in (("packets.bin", points), ("imu_packets.bin", imu)):
        with open(name, "wb") as f:
            for t, payload in packets:
                f.write(struct.pack("<QI", t, len(payload)) + payload)

    window = int(1e9 / args.rate)
    scans, current, no_return = [], None, 0
    for _t, payload in points:
        timestamp = HEADER.unpack_from(payload)[-1]
        key = timestamp // window
        if current is None or current[0] != key:
            current = (key, [])
            scans.append(current)
        for x, y, z, refl, line, _tag in decode_points(payload, lines):
            if (x, y, z) == (0.0, 0.0, 0.0):
                no_return += 1
                continue
            current[1].append((x, y, z, refl, line))
    with open("reference.bin", "wb") as f:
        f.write(b"REELREF1" + struct.pack("<I", len(scans)))
        for _key, pts in scans:
            f.write(struct.pack("<I", len(pts)))
            for x, y, z, refl, line in pts:
                f.write(struct.pack("<ffffHBB", x, y, z, refl, line, 0, 0))
    imu_samples = []
    for _t, payload in imu:
        timestamp = HEADER.unpack_from(payload)[-1]
        gyro_acc = struct.unpack_from("<6f", payload, HEADER.size)
        imu_samples.append([timestamp, *gyro_acc])
    version = (ctypes.c_int * 3)()
    lib.GetLivoxLidarSdkVer(ctypes.byref(version))
    summary = {
        "sdk": "Livox-SDK2 (py-livox2 " + importlib.metadata.version("py-livox2") + ")",
        "sdk_version": ".".join(str(v) for v in version),
        "devices": sorted([t, ip] for t, ip in devices),
        "point_packets": len(points),
        "imu_packets": len(imu),
        "scans": [len(p) for _k, p in scans],
        "no_return": no_return,
        "imu": imu_samples,
    }
    Path("reference.json").write_text(json.dumps(summary))
    print(f"Livox-SDK2 {summary['sdk_version']}: {len(points)} point packets, {len(imu)} IMU packets", flush=True)
    sys.stdout.flush()
    # The SDK's threads do not stop cleanly under ctypes; leave at once.
    os._exit(0)


if __name__ == "__main__":
    main()
