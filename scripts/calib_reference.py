#!/usr/bin/env python3
"""OpenCV references for reel's checkerboard tests, run on the same images.

    calib_reference.py IN_DIR COLSxROWS MODEL OUT_DIR [--variant NAME] [--exclude IMAGE ...]

IN_DIR holds real photographs of a checkerboard (COLSxROWS inner corners);
MODEL is `pinhole` or `fisheye`. With --variant, every image is first
transformed (deterministically) and written to OUT_DIR/images, so that reel
and OpenCV read the very same pixels:

  gradient     lighting falls from 100 % to 25 % across the image
  blur         Gaussian blur, sigma 1.5 px
  perspective  the image seen 45-60° off its axis (a homography)
  crop         cut just inside the board: one row of inner corners is lost
               (a partial board: must be refused)
  clutter      the photo shrunk onto a cluttered canvas beside a second,
               smaller copy of itself (another checkered pattern)

Without --variant OUT_DIR/images lists the input files as they are.

OUT_DIR/reference.json: per image whether `findChessboardCorners` found the
board (flags ADAPTIVE_THRESH | NORMALIZE_IMAGE) and its `cornerSubPix`
corners (row-major; each corner refined with the usual 11-pixel half
window, shrunk to 0.45 of the distance to its nearest neighbour when the
squares there are small, so that no window spans a neighbouring corner:
reel's rule), and `calibrateCameraExtended` (or
`fisheye.calibrate`) over the found views: fx fy cx cy, distortion, their
standard deviations (pinhole), RMS. --exclude leaves those images' views
out of the calibration (where OpenCV's own corners are off the corner).
"""

import argparse
import json
import shutil
from pathlib import Path

import cv2
import numpy as np


def variant(name, img, index):
    h, w = img.shape[:2]
    if name == "gradient":
        ramp = np.linspace(1.0, 0.25, w, dtype=np.float32)[None, :]
        if img.ndim == 3:
            ramp = ramp[..., None]
        return np.clip(img.astype(np.float32) * ramp, 0, 255).astype(np.uint8)
    if name == "blur":
        return cv2.GaussianBlur(img, (0, 0), 1.5)
    if name == "perspective":
        # Alternate which side recedes; the far side shrinks to 45-60 %.
        shrink = 0.45 + 0.15 * ((index * 7) % 3) / 2.0
        d = (1.0 - shrink) * h / 2.0
        src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
        if index % 2 == 0:
            dst = np.float32([[0, 0], [w, d], [w, h - d], [0, h]])
        else:
            dst = np.float32([[0, d], [w, 0], [w, h], [0, h - d]])
        m = cv2.getPerspectiveTransform(src, dst)
        return cv2.warpPerspective(img, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
    if name == "clutter":
        canvas = np.full_like(img, 90)
        # A checkered clutter band (a shirt, a keyboard) along the bottom.
        tile = 6
        yy, xx = np.mgrid[0:h, 0:w]
        stripes = (((xx // tile) + (yy // (2 * tile))) % 2 * 120 + 60).astype(np.uint8)
        band = yy > int(0.8 * h)
        if img.ndim == 3:
            canvas[band] = stripes[band][:, None]
        else:
            canvas[band] = stripes[band]
        big = cv2.resize(img, (int(w * 0.62), int(h * 0.62)), interpolation=cv2.INTER_AREA)
        small = cv2.resize(img, (int(w * 0.3), int(h * 0.3)), interpolation=cv2.INTER_AREA)
        canvas[int(0.05 * h) : int(0.05 * h) + big.shape[0], int(0.02 * w) : int(0.02 * w) + big.shape[1]] = big
        canvas[int(0.08 * h) : int(0.08 * h) + small.shape[0], int(0.68 * w) : int(0.68 * w) + small.shape[1]] = small
        return canvas
    raise SystemExit(f"unknown variant {name}")


def crop_inside(img, corners, cols, rows):
    """Cuts the image half a square inside the board's last corner row."""
    c = corners.reshape(rows, cols, 2)
    last, before = c[-1], c[-2]
    cut = (last + before) / 2.0
    # Keep the side of the cut line the first row is on.
    h, w = img.shape[:2]
    mask = np.zeros((h, w), np.uint8)
    p0, p1 = cut[0], cut[-1]
    direction = p1 - p0
    normal = np.array([-direction[1], direction[0]])
    side = np.sign(np.dot(c[0].mean(axis=0) - p0, normal))
    yy, xx = np.mgrid[0:h, 0:w]
    keep = ((xx - p0[0]) * normal[0] + (yy - p0[1]) * normal[1]) * side > 0
    mask[keep] = 1
    out = img.copy()
    out[mask == 0] = 255 if img.ndim == 2 else (255, 255, 255)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("input")
    ap.add_argument("size")
    ap.add_argument("model", choices=["pinhole", "fisheye"])
    ap.add_argument("out")
    ap.add_argument("--variant")
    ap.add_argument("--prefix", default="", help="only images whose name starts so")
    ap.add_argument("--exclude", nargs="*", default=[], help="images kept out of the calibration")
    args = ap.parse_args()
    cols, rows = map(int, args.size.split("x"))
    out = Path(args.out)
    images_dir = out / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 30, 0.001)
    files = sorted(
        p
        for p in Path(args.input).iterdir()
        if p.suffix.lower() in (".jpg", ".jpeg", ".png") and p.name.startswith(args.prefix)
    )
    views, size = [], None
    per_image = {}
    for index, path in enumerate(files):
        img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        name = path.name
        if args.variant == "crop":
            ok, corners = cv2.findChessboardCorners(img, (cols, rows), flags=3)
            if not ok:
                continue
            img = crop_inside(img, corners, cols, rows)
            name = path.stem + ".png"
            cv2.imwrite(str(images_dir / name), img)
        elif args.variant:
            img = variant(args.variant, img, index)
            name = path.stem + ".png"
            cv2.imwrite(str(images_dir / name), img)
        else:
            shutil.copy(path, images_dir / name)
        # Clutter: the reference is the large board (reel's choice between
        # two); OpenCV is run with the small copy covered.
        probe = img
        if args.variant == "clutter":
            probe = img.copy()
            h, w = probe.shape[:2]
            probe[int(0.08 * h) : int(0.08 * h) + int(0.3 * h), int(0.68 * w) : int(0.68 * w) + int(0.3 * w)] = 90
        ok, corners = cv2.findChessboardCorners(probe, (cols, rows), flags=3)
        entry = {"found": bool(ok)}
        if ok:
            grid = corners.reshape(rows, cols, 2)
            refined = corners.copy()
            for k in range(rows * cols):
                j, i = divmod(k, cols)
                near = [
                    np.linalg.norm(grid[j, i] - grid[jj, ii])
                    for jj, ii in ((j, i - 1), (j, i + 1), (j - 1, i), (j + 1, i))
                    if 0 <= jj < rows and 0 <= ii < cols
                ]
                half = int(min(11, max(2, np.floor(0.45 * min(near)))))
                one = corners[k : k + 1].copy()
                refined[k : k + 1] = cv2.cornerSubPix(img, one, (half, half), (-1, -1), criteria)
            entry["corners_subpix"] = refined.reshape(-1, 2).round(4).tolist()
            if name not in args.exclude:
                views.append(refined)
            size = (img.shape[1], img.shape[0])
        per_image[name] = entry
    objp = np.zeros((rows * cols, 3), np.float32)
    objp[:, :2] = np.mgrid[0:cols, 0:rows].T.reshape(-1, 2)
    calibration = None
    if len(views) >= 3 and args.model == "pinhole":
        rms, k, d, _r, _t, std_in, _std_ex, per_view = cv2.calibrateCameraExtended(
            [objp] * len(views), views, size, None, None, flags=0
        )
        std = std_in.ravel().tolist()
        calibration = {
            "rms": rms,
            "fx": k[0, 0], "fy": k[1, 1], "cx": k[0, 2], "cy": k[1, 2],
            "distortion": d.ravel()[:5].tolist(),
            "std": {"fx": std[0], "fy": std[1], "cx": std[2], "cy": std[3], "distortion": std[4:9]},
            "views": len(views),
            "excluded": sorted(args.exclude),
        }
    result = {
        "opencv_version": cv2.__version__,
        "board": [cols, rows],
        "model": args.model,
        "variant": args.variant,
        "images": per_image,
        "calibration": calibration,
    }
    (out / "reference.json").write_text(json.dumps(result, indent=1))
    found = sum(e["found"] for e in per_image.values())
    print(f"{args.input} ({args.variant or 'as is'}): OpenCV found {found} of {len(per_image)}")


if __name__ == "__main__":
    main()
