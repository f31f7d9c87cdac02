#!/usr/bin/env python3
"""Vendor-decoder references for reel's LiDAR tests.

Reads a real capture (pcap, rosbag2 sqlite of velodyne_msgs/VelodyneScan, or
back-to-back Velodyne payloads), writes the packets as they arrived for a
replay over loopback UDP, and decodes the same packets with the vendor's
own decoder (velodyne_decoder for Velodyne, ouster-sdk for Ouster) into
whole scans, for the test to compare point for point.

    lidar_reference.py velodyne MODEL CAPTURE OUT_DIR
    lidar_reference.py ouster METADATA.json CAPTURE.pcap OUT_DIR

OUT_DIR/packets.bin: per packet, u64 arrival time (ns) | u32 length | payload,
  little endian, in capture order (UDP port of the LiDAR's data only).
OUT_DIR/reference.bin: b"REELREF1" | u32 scans | per scan: u32 points |
  points × (f32 x, y, z, intensity | u16 ring | u8 return_type | u8 0).
OUT_DIR/reference.json: the decoder, its version and settings, per-scan counts.
Ouster only: OUT_DIR/imu_packets.bin (as packets.bin, the IMU port's) and
  OUT_DIR/imu_reference.json: ouster-sdk's samples, [accel_ts ns, accel xyz
  m/s², gyro xyz rad/s] each.
"""

import json
import sqlite3
import struct
import sys
from pathlib import Path

import numpy as np

VELODYNE_PAYLOAD = 1206
VELODYNE_PERIOD_NS = {"VLP16": 1_327_104, "PuckHiRes": 1_327_104, "VLP32C": 663_552, "HDL32E": 552_960}


def pcap_udp(path, port):
    """(arrival ns, UDP payload) of every IPv4 UDP datagram to `port`."""
    data = Path(path).read_bytes()
    magic = struct.unpack_from("<I", data, 0)[0]
    if magic == 0xA1B2C3D4:
        endian, nano = "<", False
    elif magic == 0xA1B23C4D:
        endian, nano = "<", True
    elif magic == 0xD4C3B2A1:
        endian, nano = ">", False
    else:
        raise SystemExit(f"{path}: not a pcap file (magic {magic:#x})")
    linktype = struct.unpack_from(endian + "I", data, 20)[0]
    offset, out = 24, []
    while offset + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack_from(endian + "IIII", data, offset)
        frame = data[offset + 16 : offset + 16 + incl]
        offset += 16 + incl
        stamp = sec * 1_000_000_000 + (frac if nano else frac * 1000)
        if linktype == 1:  # Ethernet
            if len(frame) < 14:
                continue
            ethertype = struct.unpack_from(">H", frame, 12)[0]
            ip = frame[14:]
            if ethertype == 0x8100:  # VLAN tag
                ethertype = struct.unpack_from(">H", frame, 16)[0]
                ip = frame[18:]
        elif linktype == 113:  # Linux cooked capture
            ethertype = struct.unpack_from(">H", frame, 14)[0]
            ip = frame[16:]
        else:
            raise SystemExit(f"{path}: link type {linktype} is not Ethernet")
        if ethertype != 0x0800 or len(ip) < 20 or ip[9] != 17:
            continue
        ihl = (ip[0] & 0x0F) * 4
        flags_frag = struct.unpack_from(">H", ip, 6)[0]
        if flags_frag & 0x3FFF:
            raise SystemExit(f"{path}: fragmented IP datagrams are not handled")
        udp = ip[ihl:]
        dst = struct.unpack_from(">H", udp, 2)[0]
        length = struct.unpack_from(">H", udp, 4)[0]
        if dst == port:
            out.append((stamp, bytes(udp[8:length])))
    return out


def velodyne_scans_db3(path):
    """(arrival ns, payload) of every packet of velodyne_msgs/VelodyneScan
    messages in a rosbag2 sqlite file (CDR, little endian)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    topics = {
        tid: name
        for tid, name, kind in db.execute("select id, name, type from topics")
        if kind == "velodyne_msgs/msg/VelodyneScan"
    }
    if not topics:
        raise SystemExit(f"{path}: no velodyne_msgs/msg/VelodyneScan topic")
    out = []
    for tid, data in db.execute("select topic_id, data from messages order by timestamp"):
        if tid not in topics:
            continue
        b = bytes(data)
        o = 4 + 8  # encapsulation, header stamp
        n = struct.unpack_from("<I", b, o)[0]
        o += 4 + n  # frame_id with its terminating NUL
        o = (o + 3) & ~3
        count = struct.unpack_from("<I", b, o)[0]
        o += 4
        for _ in range(count):
            o = (o + 3) & ~3
            sec, nsec = struct.unpack_from("<iI", b, o)
            o += 8
            out.append((sec * 1_000_000_000 + nsec, b[o : o + VELODYNE_PAYLOAD]))
            o += VELODYNE_PAYLOAD
    return out


def velodyne_packets(model, capture):
    capture = Path(capture)
    if capture.suffix == ".db3":
        return velodyne_scans_db3(capture)
    if capture.suffix == ".pcap":
        return [p for p in pcap_udp(capture, 2368) if len(p[1]) == VELODYNE_PAYLOAD]
    # Back-to-back payloads without arrival times: the model's packet period.
    raw = capture.read_bytes()
    period = VELODYNE_PERIOD_NS[model]
    return [
        (1_000_000_000 + i * period, raw[o : o + VELODYNE_PAYLOAD])
        for i, o in enumerate(range(0, len(raw) - VELODYNE_PAYLOAD + 1, VELODYNE_PAYLOAD))
    ]


def velodyne_reference(model, packets):
    import velodyne_decoder as vd

    config = vd.Config(model=getattr(vd.Model, model), min_range=0.0, max_range=10_000.0, cut_angle=0.0)
    decoder = vd.StreamDecoder(config)
    scans = []
    product_id = {"VLP16": 0x22, "PuckHiRes": 0x24, "VLP32C": 0x28, "HDL32E": 0x21}[model]
    for stamp, data in packets:
        if model == "VLP16" and data[1205] == 0x21:
            # VLP-16 firmware before 3.0.29 writes the HDL-32E's product
            # id; velodyne_decoder trusts the byte, so it is given the
            # VLP-16's (only the decoder's copy changes).
            data = data[:1205] + bytes([product_id])
        result = decoder.decode(stamp * 1e-9, data, False)
        if result is not None:
            scans.append(result[1])
    result = decoder.finish(False)
    if result is not None:
        scans.append(result[1])
    f = vd.PointField
    rows = [
        np.column_stack([s[:, f.x], s[:, f.y], s[:, f.z], s[:, f.intensity], s[:, f.ring], s[:, f.return_type]])
        for s in scans
    ]
    import importlib.metadata

    info = {
        "decoder": "velodyne_decoder",
        "version": importlib.metadata.version("velodyne-decoder"),
        "settings": {"model": model, "min_range": 0.0, "max_range": 10000.0, "cut_angle": 0.0},
    }
    return rows, info


def ouster_reference(metadata, capture):
    import importlib.metadata

    from ouster.sdk import core, pcap

    source = pcap.PcapFrameSetSource(str(capture), meta=[str(metadata)])
    sensor = source.sensor_info[0]
    lut = core.XYZLut(sensor, use_extrinsics=False)
    dual = sensor.format.udp_profile_lidar.name.endswith("DUAL")
    fields = [(core.ChanField.RANGE, core.ChanField.REFLECTIVITY, 1)]
    if dual:
        fields.append((core.ChanField.RANGE2, core.ChanField.REFLECTIVITY2, 2))
    rows = []
    for frames in source:
        frame = frames[0]
        if frame is None:
            continue
        h, w = frame.h, frame.w
        valid = (frame.status & 1) > 0
        returns = []
        for rng_field, refl_field, kind in fields:
            rng = frame.field(rng_field)
            returns.append((rng, lut(rng), frame.field(refl_field), kind))
        # Column by column (measurement id), beam by beam within a column
        # (ring 0 = the lowest beam, the last row), returns in order: the
        # order the packets carry them.
        out = []
        for col in range(w):
            if not valid[col]:
                continue
            for row in range(h):
                for rng, xyz, refl, kind in returns:
                    if rng[row, col] > 0:
                        x, y, z = xyz[row, col]
                        out.append((x, y, z, float(refl[row, col]), h - 1 - row, kind))
        rows.append(np.array(out, dtype=np.float64).reshape(-1, 6))
    info = {
        "decoder": "ouster-sdk",
        "version": importlib.metadata.version("ouster-sdk"),
        "settings": {
            "product_line": sensor.prod_line,
            "mode": str(sensor.config.lidar_mode),
            "profile": sensor.format.udp_profile_lidar.name,
            "frame": "sensor (XYZLut use_extrinsics=False)",
        },
    }
    return rows, info


def write_packets(path, packets):
    with open(path, "wb") as f:
        for stamp, data in packets:
            f.write(struct.pack("<QI", stamp, len(data)))
            f.write(data)


def ouster_imu_reference(metadata, capture):
    from ouster.sdk import core, pcap

    source = pcap.PcapPacketSource(str(capture), meta=[str(metadata)])
    samples = []
    for _index, packet in source:
        if isinstance(packet, core.ImuPacket):
            accel, gyro = packet.accel()[0], packet.gyro()[0]
            samples.append([int(packet.accel_ts()), *map(float, accel), *map(float, gyro)])
    return samples


def write(out, packets, rows, info):
    out.mkdir(parents=True, exist_ok=True)
    write_packets(out / "packets.bin", packets)
    with open(out / "reference.bin", "wb") as f:
        f.write(b"REELREF1")
        f.write(struct.pack("<I", len(rows)))
        for r in rows:
            f.write(struct.pack("<I", len(r)))
            rec = np.zeros(len(r), dtype=[("xyzi", "<f4", 4), ("ring", "<u2"), ("ret", "u1"), ("pad", "u1")])
            rec["xyzi"] = r[:, :4]
            rec["ring"] = r[:, 4]
            rec["ret"] = r[:, 5]
            f.write(rec.tobytes())
    info["packets"] = len(packets)
    info["points_per_scan"] = [len(r) for r in rows]
    (out / "reference.json").write_text(json.dumps(info, indent=1))


def main(argv):
    if len(argv) != 5 or argv[1] not in ("velodyne", "ouster"):
        raise SystemExit(__doc__)
    family, arg, capture, out = argv[1], argv[2], Path(argv[3]), Path(argv[4])
    if family == "velodyne":
        packets = velodyne_packets(arg, capture)
        rows, info = velodyne_reference(arg, packets)
    else:
        meta = json.loads(Path(arg).read_text())
        port = ouster_lidar_port(meta)
        packets = pcap_udp(capture, port)
        rows, info = ouster_reference(arg, capture)
        imu_port = ouster_imu_port(meta)
        imu_packets = pcap_udp(capture, imu_port)
        out.mkdir(parents=True, exist_ok=True)
        write_packets(out / "imu_packets.bin", imu_packets)
        (out / "imu_reference.json").write_text(json.dumps(ouster_imu_reference(arg, capture)))
    write(out, packets, rows, info)
    print(f"{capture.name}: {len(packets)} packets, {len(rows)} scans: {[len(r) for r in rows]}")


def ouster_imu_port(meta):
    config = meta.get("config_params") or meta.get("sensor_config") or {}
    return int(config.get("udp_port_imu", meta.get("udp_port_imu", 7503)))


def ouster_lidar_port(meta):
    config = meta.get("config_params") or meta.get("sensor_config") or {}
    return int(config.get("udp_port_lidar", meta.get("udp_port_lidar", 7502)))


if __name__ == "__main__":
    main(sys.argv)
