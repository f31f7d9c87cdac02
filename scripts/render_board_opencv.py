"""Renders checkerboard views through OpenCV's camera model, as ground truth
for reel's calibration that does not come from reel's own projection code.

Usage: render_board_opencv.py SPEC.json OUT_DIR
       render_board_opencv.py --calibrate SPEC.json CORNERS.json FITTED.json

SPEC holds the camera ({"lens": "pinhole-radtan"|"fisheye", "width",
"height", "fx", "fy", "cx", "cy", "distortion"}), the board ({"cols",
"rows", "square"}: inner corners and square size; one square of margin
around them, as reel's boards), the views ([{"rvec", "tvec"}], camera <-
board) and "samples" (supersampling per pixel axis).

Each pixel's sub-samples are turned into rays by OpenCV's own inverse
(cv2.undistortPointsIter / cv2.fisheye.undistortPoints, iterated to 1e-14),
checked by projecting them back with cv2.projectPoints /
cv2.fisheye.projectPoints, intersected with the board plane and shaded.
Writes OUT_DIR/viewNN.png and prints JSON: the true corners of every view
(cv2.projectPoints of the board's corner points, in reel's order: row by
row), the worst round-trip error of the rays, in pixels, and how far
OpenCV's own findChessboardCorners + cornerSubPix land from the truth.

With --calibrate, OpenCV calibrates from the corners another detector found
(CORNERS: a list of views, each a list of [u, v] in the board's order) with
cv2.calibrateCamera (k1 k2 p1 p2 k3) or cv2.fisheye.calibrate (k1..k4), and
both that fit and FITTED (another tool's camera, SPEC's fields) are compared
with the true lens: the worst distance, over the part of the image the
corners cover, between where the true and the fitted lens put each pixel's
ray. Prints JSON.
"""
import json
import pathlib
import sys

import cv2
import numpy as np

DARK, LIGHT, BACKGROUND = 30.0, 215.0, 120.0
SUBPIX = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 100, 1e-4)
# Iterations until the step is below 1e-14; the round trip below checks the result.
CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 50, 1e-14)


def camera_matrix(cam):
    return np.array([[cam["fx"], 0, cam["cx"]], [0, cam["fy"], cam["cy"]], [0, 0, 1]], np.float64)


def undistort(cam, pixels):
    """Normalised image coordinates (x/z, y/z) of pixel positions, N x 2."""
    k, d = camera_matrix(cam), np.array(cam["distortion"], np.float64)
    pts = pixels.reshape(-1, 1, 2)
    if cam["lens"] == "fisheye":
        out = cv2.fisheye.undistortPoints(pts, k, d, criteria=CRITERIA)
    else:
        out = cv2.undistortPointsIter(pts, k, d, None, None, CRITERIA)
    return out.reshape(-1, 2)


def project(cam, points, rvec, tvec):
    """cv2.projectPoints (or its fisheye twin) of N x 3 points."""
    k, d = camera_matrix(cam), np.array(cam["distortion"], np.float64)
    pts = np.ascontiguousarray(points, np.float64).reshape(-1, 1, 3)
    rvec, tvec = np.array(rvec, np.float64).reshape(3, 1), np.array(tvec, np.float64).reshape(3, 1)
    if cam["lens"] == "fisheye":
        out, _ = cv2.fisheye.projectPoints(pts, rvec, tvec, k, d)
    else:
        out, _ = cv2.projectPoints(pts, rvec, tvec, k, d)
    return out.reshape(-1, 2)


def shade(board, x, y):
    cols, rows, square = board["cols"], board["rows"], board["square"]
    a = np.floor(x / square).astype(np.int64) + 1
    b = np.floor(y / square).astype(np.int64) + 1
    inside = (a >= 0) & (a <= cols) & (b >= 0) & (b <= rows)
    dark = (a + b) % 2 == 0
    return np.where(inside, np.where(dark, DARK, LIGHT), BACKGROUND)


def sample_rays(cam, samples):
    """The ray (x/z, y/z, 1) through every sub-sample of every pixel (the
    same for every view), and how far they land from their sub-sample when
    projected back by OpenCV's forward model, in pixels."""
    w, h = cam["width"], cam["height"]
    offsets = (np.arange(samples) + 0.5) / samples - 0.5
    u = (np.arange(w)[None, :, None, None] + offsets[None, None, None, :]).repeat(h, 0).repeat(samples, 2)
    v = (np.arange(h)[:, None, None, None] + offsets[None, None, :, None]).repeat(w, 1).repeat(samples, 3)
    pixels = np.stack([u.ravel(), v.ravel()], axis=1)
    rays = undistort(cam, pixels)
    dirs = np.concatenate([rays, np.ones((len(rays), 1))], axis=1)
    back = project(cam, dirs, [0, 0, 0], [0, 0, 0])
    return dirs, float(np.max(np.linalg.norm(back - pixels, axis=1)))


def render(cam, board, view, samples, dirs):
    w, h = cam["width"], cam["height"]
    r, _ = cv2.Rodrigues(np.array(view["rvec"], np.float64))
    t = np.array(view["tvec"], np.float64)
    n = r[:, 2]
    denom = dirs @ n
    with np.errstate(divide="ignore", invalid="ignore"):
        depth = (n @ t) / denom
    hit = np.isfinite(depth) & (depth > 0) & (np.abs(denom) > 1e-12)
    points = dirs * np.where(hit, depth, 1.0)[:, None]
    on_board = (points - t) @ r  # board frame: R^T (p - t)
    values = np.where(hit, shade(board, on_board[:, 0], on_board[:, 1]), BACKGROUND)
    image = values.reshape(h, w, samples, samples).mean(axis=(2, 3))
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def main():
    spec = json.loads(pathlib.Path(sys.argv[1]).read_text())
    out = pathlib.Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    cam, board, samples = spec["camera"], spec["board"], int(spec["samples"])
    corners = np.array(
        [[i * board["square"], j * board["square"], 0.0] for j in range(board["rows"]) for i in range(board["cols"])]
    )
    dirs, worst = sample_rays(cam, samples)
    views, opencv_errors, found = [], [], 0
    for k, view in enumerate(spec["views"]):
        image = render(cam, board, view, samples, dirs)
        cv2.imwrite(str(out / f"view{k:02}.png"), image)
        truth = project(cam, corners, view["rvec"], view["tvec"])
        views.append(truth.tolist())
        # OpenCV's own detector on the same image, for a fair yardstick.
        ok, detected = cv2.findChessboardCorners(image, (board["cols"], board["rows"]))
        if ok:
            found += 1
            detected = cv2.cornerSubPix(image, detected, (5, 5), (-1, -1), SUBPIX).reshape(-1, 2)
            errors = np.linalg.norm(detected - truth, axis=1)
            # OpenCV may start from the opposite corner of a symmetric board.
            flipped = np.linalg.norm(detected[::-1] - truth, axis=1)
            opencv_errors.extend((flipped if flipped.mean() < errors.mean() else errors).tolist())
    print(json.dumps({
        "opencv": cv2.__version__,
        "corners": views,
        "roundtrip_px": worst,
        "opencv_detection": {
            "found": found,
            "mean_px": float(np.mean(opencv_errors)) if opencv_errors else None,
            "worst_px": float(np.max(opencv_errors)) if opencv_errors else None,
        },
    }))


def calibrate(spec, views):
    cam, board = spec["camera"], spec["board"]
    obj = np.array(
        [[i * board["square"], j * board["square"], 0.0] for j in range(board["rows"]) for i in range(board["cols"])],
        np.float64,
    )
    size = (cam["width"], cam["height"])
    image_points = [np.array(v, np.float64).reshape(-1, 1, 2) for v in views]
    if cam["lens"] == "fisheye":
        flags = cv2.fisheye.CALIB_RECOMPUTE_EXTRINSIC | cv2.fisheye.CALIB_FIX_SKEW
        rms, k, d, _, _ = cv2.fisheye.calibrate(
            [obj.reshape(-1, 1, 3)] * len(views), image_points, size, None, None, flags=flags,
            criteria=(cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 200, 1e-12),
        )
    else:
        rms, k, d, _, _ = cv2.calibrateCamera(
            [obj.astype(np.float32)] * len(views), [p.astype(np.float32) for p in image_points], size, None, None
        )
    return {
        "lens": cam["lens"], "width": cam["width"], "height": cam["height"],
        "fx": k[0, 0], "fy": k[1, 1], "cx": k[0, 2], "cy": k[1, 2],
        "distortion": d.ravel().tolist(), "rms": rms,
    }


def mapping_error(truth, fitted, views):
    """Worst pixel distance between the true and the fitted lens over the
    bounding box of the observed corners, every 4 px."""
    every = np.concatenate([np.array(v).reshape(-1, 2) for v in views])
    (u0, v0), (u1, v1) = every.min(axis=0), every.max(axis=0)
    u, v = np.meshgrid(np.arange(u0, u1, 4.0), np.arange(v0, v1, 4.0))
    pixels = np.stack([u.ravel(), v.ravel()], axis=1)
    rays = undistort(truth, pixels)
    dirs = np.concatenate([rays, np.ones((len(rays), 1))], axis=1)
    return float(np.max(np.linalg.norm(project(fitted, dirs, [0, 0, 0], [0, 0, 0]) - pixels, axis=1)))


def calibrate_main(spec_path, corners_path, fitted_path):
    spec = json.loads(pathlib.Path(spec_path).read_text())
    views = json.loads(pathlib.Path(corners_path).read_text())
    fitted = json.loads(pathlib.Path(fitted_path).read_text())
    opencv = calibrate(spec, views)
    print(json.dumps({
        "opencv": opencv,
        "mapping_px": {
            "opencv": mapping_error(spec["camera"], opencv, views),
            "other": mapping_error(spec["camera"], fitted, views),
        },
    }))


if __name__ == "__main__":
    if sys.argv[1] == "--calibrate":
        calibrate_main(*sys.argv[2:5])
    else:
        main()
