#!/usr/bin/env python3
"""Reads MCAP episodes with third-party readers and prints what they decoded.

For each file, two independent readers decode every message:
  - the `mcap` package with `mcap-ros2-support` (indexed reading via the summary),
  - `rosbags` (AnyReader on the bare .mcap, typestore built from the embedded schemas).
Output: one JSON object {file: {reader: {topic: {type, count, first}}}} where
`first` is the first decoded message as plain JSON (arrays longer than 32 are
replaced by their length; non-finite floats by their repr).
Any exception is a failure: it is printed and the exit code is 1.
"""
import json
import math
import sys
from pathlib import Path


def plain(value, depth=0):
    if depth > 8:
        return "..."
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, (bool, int, str)) or value is None:
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        value = bytes(value)
        return list(value) if len(value) <= 32 else {"len": len(value)}
    try:
        import numpy as np

        if isinstance(value, np.ndarray):
            if value.size > 32:
                return {"len": int(value.size)}
            return [plain(v.item(), depth + 1) for v in value]
        if isinstance(value, np.generic):
            return plain(value.item(), depth + 1)
    except ImportError:
        pass
    if isinstance(value, (list, tuple)):
        if len(value) > 32:
            return {"len": len(value)}
        return [plain(v, depth + 1) for v in value]
    fields = getattr(value, "__dataclass_fields__", None)
    names = list(fields) if fields else list(getattr(value, "__slots__", []))
    if not names and hasattr(value, "__dict__"):
        names = [n for n in vars(value) if not n.startswith("_")]
    return {n: plain(getattr(value, n), depth + 1) for n in names if not n.startswith("__")}


def with_mcap(path):
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory

    topics = {}
    with open(path, "rb") as f:
        reader = make_reader(f, decoder_factories=[DecoderFactory()])
        summary = reader.get_summary()
        if summary is None or summary.statistics is None:
            raise RuntimeError("no summary/statistics")
        for schema, channel, message, decoded in reader.iter_decoded_messages():
            t = topics.setdefault(channel.topic, {"type": schema.name, "count": 0})
            t["count"] += 1
            if "first" not in t:
                t["first"] = plain(decoded)
        if sum(t["count"] for t in topics.values()) != summary.statistics.message_count:
            raise RuntimeError("decoded count differs from statistics")
    return topics


def with_rosbags(path):
    from rosbags.highlevel import AnyReader

    topics = {}
    with AnyReader([Path(path)]) as reader:
        for connection, _timestamp, raw in reader.messages():
            msg = reader.deserialize(raw, connection.msgtype)
            t = topics.setdefault(connection.topic, {"type": connection.msgtype, "count": 0})
            t["count"] += 1
            if "first" not in t:
                t["first"] = plain(msg)
    return topics


def main():
    result = {}
    failed = False
    for path in sys.argv[1:]:
        result[path] = {}
        for name, fn in (("mcap", with_mcap), ("rosbags", with_rosbags)):
            try:
                result[path][name] = fn(path)
            except Exception as e:  # noqa: BLE001 - report every reader failure
                failed = True
                result[path][name] = {"error": f"{type(e).__name__}: {e}"}
    json.dump(result, sys.stdout, indent=1, sort_keys=True)
    print()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
