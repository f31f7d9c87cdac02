"""Decimate binary STL meshes for the samples (run once by hand; the output is committed).

The SO-101 meshes from TheRobotStudio/SO-ARM100 have 322k triangles (16 MB); the viewer and the
sim's CPU renderer need a fraction of that. Quadric decimation (fast-simplification) keeps the
shape; vertices are welded first so the decimator sees a connected surface.

    python decimate_stl.py SRC_DIR DST_DIR [--keep 0.15]
"""
import argparse
import pathlib
import struct

import fast_simplification
import numpy as np


def read_stl(path):
    raw = path.read_bytes()
    (n,) = struct.unpack_from("<I", raw, 80)
    rec = np.frombuffer(raw, dtype=np.dtype([("n", "<f4", 3), ("v", "<f4", (3, 3)), ("a", "<u2")]), count=n, offset=84)
    verts = rec["v"].reshape(-1, 3).astype(np.float64)
    uniq, inverse = np.unique(np.round(verts, 7), axis=0, return_inverse=True)
    return uniq, inverse.reshape(-1, 3)


def write_stl(path, points, faces):
    tri = points[faces].astype(np.float32)
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    lengths = np.linalg.norm(normals, axis=1, keepdims=True)
    normals = np.divide(normals, lengths, out=np.zeros_like(normals), where=lengths > 0)
    rec = np.zeros(len(faces), dtype=np.dtype([("n", "<f4", 3), ("v", "<f4", (3, 3)), ("a", "<u2")]))
    rec["n"] = normals
    rec["v"] = tri
    header = b"decimated by reel scripts/assets/decimate_stl.py".ljust(80, b" ")
    path.write_bytes(header + struct.pack("<I", len(faces)) + rec.tobytes())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("src", type=pathlib.Path)
    ap.add_argument("dst", type=pathlib.Path)
    ap.add_argument("--keep", type=float, default=0.15)
    args = ap.parse_args()
    args.dst.mkdir(parents=True, exist_ok=True)
    for src in sorted(args.src.glob("*.stl")):
        points, faces = read_stl(src)
        small_points, small_faces = fast_simplification.simplify(points, faces, target_reduction=1.0 - args.keep)
        write_stl(args.dst / src.name, small_points, small_faces)
        print(f"{src.name}: {len(faces)} -> {len(small_faces)} triangles")


if __name__ == "__main__":
    main()
