"""Reads an .rrd with rerun's own reader (rerun-sdk's RrdReader) and prints, as JSON, per
recording: every entity path with its temporal and static row counts and, per component, the rows that
hold it and (for transforms and scalars, small values) how many distinct values they hold,
and each timeline's range. The Rust tests assert on it; nothing here knows reel's layout.

    python check_rrd.py FILE.rrd
"""
import json
import sys

import pyarrow as pa
import pyarrow.compute as pc
from rerun.experimental import RrdReader


# Components whose distinct values are counted: small, and what shows motion.
DISTINCT = ("Transform3D:", "Scalars:")


def describe(reader, entry):
    entities = {}
    timelines = {}
    seen = {}
    for chunk in reader.stream(store=entry):
        e = entities.setdefault(chunk.entity_path, {"rows": 0, "static_rows": 0, "components": {}})
        batch = chunk.to_record_batch()
        if chunk.is_static:
            e["static_rows"] += chunk.num_rows
        else:
            e["rows"] += chunk.num_rows
        for field in batch.schema:
            meta = field.metadata or {}
            kind = meta.get(b"rerun:kind", b"").decode()
            if kind == "index":
                col = batch.column(field.name)
                if len(col) == 0:
                    continue
                ints = col.cast(pa.int64()) if not pa.types.is_integer(col.type) else col
                lo, hi = pc.min(ints).as_py(), pc.max(ints).as_py()
                t = timelines.setdefault(field.name, [lo, hi])
                t[0], t[1] = min(t[0], lo), max(t[1], hi)
            elif kind == "data":
                name = meta.get(b"rerun:component", field.name.encode()).decode()
                col = batch.column(field.name)
                counts = e["components"]
                key = name + (" (static)" if chunk.is_static else "")
                counts[key] = counts.get(key, 0) + len(col) - col.null_count
                if name.startswith(DISTINCT):
                    values = seen.setdefault((chunk.entity_path, key), set())
                    values.update(repr(v) for v in col.to_pylist() if v is not None)
    for (path, key), values in seen.items():
        entities[path].setdefault("distinct", {})[key] = len(values)
    return {"entities": entities, "timelines": timelines}


def main():
    reader = RrdReader(sys.argv[1])
    out = {
        "recordings": {r.recording_id: describe(reader, r) for r in reader.recordings()},
        "blueprints": len(reader.blueprints()),
    }
    json.dump(out, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
