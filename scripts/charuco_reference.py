#!/usr/bin/env python3
"""OpenCV references for reel's ChArUco tests, run on the same frames.

    charuco_reference.py VIDEO|FOLDER SQUARES_XxSQUARES_Y SQUARE_M MARKER_M DICT OUT_DIR [--inverted]

Every frame of VIDEO (a real recording of a ChArUco board), or every photo
in FOLDER (sorted by name), is written to
OUT_DIR/images as a lossless grey PNG, so that reel and OpenCV read the very
same pixels. For each, OUT_DIR/reference.json holds what OpenCV's
`CharucoDetector` (default parameters; the image inverted first for an
inverted print, as caliscope does) finds: marker ids, corner ids, its
corners as returned and the same corners refined to convergence
(`cornerSubPix`, 30 iterations or 0.001 px; the detector itself stops at
0.1 px) with the detector's own start and window, rebuilt here as
charuco_detector.cpp builds them: the corner placed by the homographies of
the two markers nearest it (by marker centre, within 1 % of a square),
the window the distance from there to the nearer of their nearest
corners, less 2 px, truncated, within 1..10. OpenCV 4.12 refines in
cornerSubPix's frame (pixel centres on integers) and returns corners half
a pixel further (pixel centres on .5); the converged corners are in
cornerSubPix's frame. `reproduced` says how far cornerSubPix from that
start and window, stopped as the detector stops, lands from the
detector's own corner: it checks that the start and window are OpenCV's.
Then `calibrateCameraExtended` over the frames with at least 6 corners, on
the converged corners: fx fy cx cy, distortion, their standard deviations,
RMS.
"""

import argparse
import json
from pathlib import Path

import cv2
import numpy as np


def video_frames(path):
    """(name, frame) of every frame of the video at `path`."""
    cap = cv2.VideoCapture(path)
    k = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            return
        yield f"frame_{k:04d}.png", frame
        k += 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("video")
    ap.add_argument("squares")
    ap.add_argument("square", type=float)
    ap.add_argument("marker", type=float)
    ap.add_argument("dictionary")
    ap.add_argument("out")
    ap.add_argument("--inverted", action="store_true")
    args = ap.parse_args()
    sx, sy = map(int, args.squares.split("x"))
    aruco = cv2.aruco
    board = aruco.CharucoBoard(
        (sx, sy), args.square, args.marker, aruco.getPredefinedDictionary(getattr(aruco, args.dictionary))
    )
    detector = aruco.CharucoDetector(board)
    chess = board.getChessboardCorners()[:, :2].astype(np.float32)
    markers_obj = [m.reshape(-1, 3)[:, :2].astype(np.float32) for m in board.getObjPoints()]
    # The markers nearest each corner (OpenCV: by marker centre, ties
    # within 1 % of a square) and, of each, the corner nearest it.
    beside = []
    for c in chess:
        centre = np.array([np.linalg.norm(m.mean(axis=0) - c) for m in markers_obj])
        near = [i for i in range(len(markers_obj)) if centre[i] < centre.min() + 0.01 * args.square]
        beside.append([(i, int(np.linalg.norm(markers_obj[i] - c, axis=1).argmin())) for i in near])
    out = Path(args.out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 30, 0.001)
    stop_as_detector = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 30, 0.1)
    reproduced = []
    source = Path(args.video)
    if source.is_dir():
        photos = sorted(p for p in source.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
        pictures = ((p.stem + ".png", cv2.imread(str(p))) for p in photos)
    else:
        pictures = video_frames(args.video)
    frames, views_obj, views_img, size = {}, [], [], None
    for name, frame in pictures:
        grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        size = (grey.shape[1], grey.shape[0])
        cv2.imwrite(str(out / "images" / name), grey)
        probe = cv2.bitwise_not(grey) if args.inverted else grey
        corners, ids, mcorners, mids = detector.detectBoard(probe)
        entry = {"markers": [], "ids": [], "corners": [], "converged": []}
        if mids is not None:
            entry["markers"] = sorted(int(i) for i in mids.ravel())
        if ids is not None:
            board_ids = [int(i) for i in board.getIds()]
            by_id = {int(i): m.reshape(-1, 2) for i, m in zip(mids.ravel(), mcorners) if int(i) in board_ids}
            homography = {
                i: cv2.getPerspectiveTransform(markers_obj[board_ids.index(i)], c) for i, c in by_id.items()
            }
            for cid, p in zip(ids.ravel(), corners.reshape(-1, 2)):
                seen = [(board_ids[m], corner) for m, corner in beside[int(cid)] if board_ids[m] in by_id]
                placed = [
                    cv2.perspectiveTransform(chess[cid].reshape(1, 1, 2), homography[m]).reshape(2)
                    for m, _ in seen[:2]
                ]
                start = (placed[0] + placed[1]) / 2 if len(placed) > 1 else placed[0]
                near = min(float(np.linalg.norm(by_id[m][corner] - start)) for m, corner in seen)
                half = int(min(10, max(1, int(near - 2))))
                at = (start - 0.5).reshape(1, 1, 2).astype(np.float32)
                again = cv2.cornerSubPix(grey, at.copy(), (half, half), (-1, -1), stop_as_detector).reshape(2) + 0.5
                refined = cv2.cornerSubPix(grey, at.copy(), (half, half), (-1, -1), criteria)
                entry["ids"].append(int(cid))
                entry["corners"].append(p.round(4).tolist())
                entry["converged"].append(refined.reshape(2).round(4).tolist())
                reproduced.append(float(np.linalg.norm(again - p)))
            if len(entry["ids"]) >= 6:
                views_obj.append(np.array([[*chess[i], 0.0] for i in entry["ids"]], np.float32))
                views_img.append(np.array(entry["converged"], np.float32))
        frames[name] = entry
    calibration = None
    if len(views_obj) >= 3:
        rms, kmat, d, _r, _t, std_in, _std_ex, _per_view = cv2.calibrateCameraExtended(
            views_obj, views_img, size, None, None, flags=0
        )
        std = std_in.ravel().tolist()
        calibration = {
            "rms": rms,
            "fx": kmat[0, 0], "fy": kmat[1, 1], "cx": kmat[0, 2], "cy": kmat[1, 2],
            "distortion": d.ravel()[:5].tolist(),
            "std": {"fx": std[0], "fy": std[1], "cx": std[2], "cy": std[3], "distortion": std[4:9]},
            "views": len(views_obj),
        }
    result = {
        "opencv_version": cv2.__version__,
        "frames": frames,
        "calibration": calibration,
        "reproduced": {"p95": float(np.percentile(reproduced, 95)), "max": float(max(reproduced))},
    }
    (out / "reference.json").write_text(json.dumps(result, indent=1))
    corners = sum(len(e["ids"]) for e in frames.values())
    print(f"{args.video}: {len(frames)} frames, OpenCV found {corners} corners")


if __name__ == "__main__":
    main()
