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
window, shrunk to 0.45 of the squares' size there when they are small or
thin, so that no window spans a neighbouring corner or a square's far
edge: reel's rule, `square_size_at`), and `calibrateCameraExtended` (or
`fisheye.calibrate`) over the found views: fx fy cx cy, distortion, their
standard deviations, RMS; for a fisheye also the views used and dropped. --exclude leaves those images' views
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


def square_size_at(grid, i, j):
    """The size of the squares at corner (i, j), pixels: the distance to its
    nearest neighbour, or the width of a cell beside it (its area over its
    longer side) where that is less: a thin, obliquely seen square. reel's
    rule for its refinement window."""
    rows, cols = grid.shape[:2]
    inside = lambda jj, ii: 0 <= jj < rows and 0 <= ii < cols
    here = grid[j, i].astype(np.float64)
    sizes = [
        np.linalg.norm(grid[jj, ii] - here)
        for jj, ii in ((j, i - 1), (j, i + 1), (j - 1, i), (j + 1, i))
        if inside(jj, ii)
    ]
    for di, dj in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
        if inside(j, i + di) and inside(j + dj, i):
            u, v = grid[j, i + di] - here, grid[j + dj, i] - here
            area = abs(u[0] * v[1] - u[1] * v[0])
            sizes.append(area / max(np.linalg.norm(u), np.linalg.norm(v)))
    return min(sizes)


# A fisheye view whose per-view RMS is above this is dropped (its corners
# lie near 90 deg off axis, where OpenCV's fisheye model, which projects
# x/z and y/z, breaks down), and the fit is run again.
FISHEYE_MAX_VIEW_RMS = 1.0


def image_circle(files):
    """Centre and radius of a fisheye's image circle: the smallest circle
    around the pixels brighter than 20 in the mean of all frames."""
    mean = np.mean([cv2.imread(str(f), cv2.IMREAD_GRAYSCALE).astype(np.float32) for f in files], axis=0)
    contours, _ = cv2.findContours((mean > 20).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    (x, y), radius = cv2.minEnclosingCircle(max(contours, key=cv2.contourArea))
    return x, y, radius


def fisheye_calibration(objp, views, names, size, files):
    """cv2.fisheye.calibrate from the image circle (f = radius / (pi/2),
    k = 0), dropping the worst view while one is above
    FISHEYE_MAX_VIEW_RMS or the fit raises; the standard deviations come
    from the Jacobian of cv2.fisheye.projectPoints at the solution, as
    calibrateCameraExtended computes them for a pinhole."""
    fe = cv2.fisheye
    cx, cy, radius = image_circle(files)
    f0 = radius / (np.pi / 2)
    k0 = np.array([[f0, 0, cx], [0, f0, cy], [0, 0, 1]], np.float64)
    flags = fe.CALIB_USE_INTRINSIC_GUESS | fe.CALIB_RECOMPUTE_EXTRINSIC | fe.CALIB_FIX_SKEW
    criteria = (cv2.TERM_CRITERIA_COUNT + cv2.TERM_CRITERIA_EPS, 100, 1e-6)
    obj = objp.reshape(-1, 1, 3).astype(np.float64)
    pts = [v.reshape(-1, 1, 2).astype(np.float64) for v in views]

    def fit(keep):
        return fe.calibrate([obj] * len(keep), [pts[j] for j in keep], size, k0.copy(),
                            np.zeros((4, 1)), flags=flags, criteria=criteria)

    keep, dropped = list(range(len(views))), []
    while True:
        try:
            rms, k, d, rvecs, tvecs = fit(keep)
        except cv2.error:
            # The view whose removal lets the fit succeed with the least RMS.
            tries = []
            for j in keep:
                try:
                    tries.append((fit([i for i in keep if i != j])[0], j))
                except cv2.error:
                    pass
            worst = min(tries)[1]
            keep.remove(worst)
            dropped.append(names[worst])
            continue
        per_view = [
            float(np.sqrt(np.mean(np.sum((fe.projectPoints(obj, r, t, k, d)[0] - pts[j]) ** 2, axis=2))))
            for j, r, t in zip(keep, rvecs, tvecs)
        ]
        w = int(np.argmax(per_view))
        if per_view[w] <= FISHEYE_MAX_VIEW_RMS:
            break
        dropped.append(names[keep.pop(w)])
    std = fisheye_std(obj, [pts[j] for j in keep], k, d, rvecs, tvecs)
    return {
        "rms": rms,
        "fx": k[0, 0], "fy": k[1, 1], "cx": k[0, 2], "cy": k[1, 2],
        "distortion": d.ravel().tolist(),
        "std": {"fx": std[0], "fy": std[1], "cx": std[2], "cy": std[3], "distortion": std[4:8]},
        "views": len(keep),
        "used": [names[j] for j in keep],
        "dropped": dropped,
        "initial_guess": {"cx": cx, "cy": cy, "f": f0},
    }


def fisheye_std(obj, pts, k, d, rvecs, tvecs):
    """Standard deviations of fx fy cx cy k1..k4: sqrt(diag((J^T J)^-1) s^2),
    s^2 the residual variance, J by central differences of
    cv2.fisheye.projectPoints over every parameter (intrinsics and poses)."""
    def unpack(x):
        kk = np.array([[x[0], 0, x[2]], [0, x[1], x[3]], [0, 0, 1]])
        return kk, x[4:8].reshape(4, 1), x[8:].reshape(-1, 2, 3)

    def residuals(x):
        kk, dd, poses = unpack(x)
        return np.concatenate([
            (cv2.fisheye.projectPoints(obj, p[0].reshape(3, 1), p[1].reshape(3, 1), kk, dd)[0] - q).ravel()
            for p, q in zip(poses, pts)
        ])

    x0 = np.concatenate([
        [k[0, 0], k[1, 1], k[0, 2], k[1, 2]], d.ravel(),
        np.concatenate([np.concatenate([np.ravel(r), np.ravel(t)]) for r, t in zip(rvecs, tvecs)]),
    ])
    r0 = residuals(x0)
    jac = np.empty((r0.size, x0.size))
    for i in range(x0.size):
        h = 1e-6 * max(1.0, abs(x0[i]))
        up, down = x0.copy(), x0.copy()
        up[i] += h
        down[i] -= h
        jac[:, i] = (residuals(up) - residuals(down)) / (2 * h)
    variance = r0 @ r0 / (r0.size - x0.size)
    cov = np.linalg.inv(jac.T @ jac) * variance
    return np.sqrt(np.diag(cov))[:8].tolist()


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
    views, view_names, size = [], [], None
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
                half = int(min(11, max(2, np.floor(0.45 * square_size_at(grid, i, j)))))
                one = corners[k : k + 1].copy()
                refined[k : k + 1] = cv2.cornerSubPix(img, one, (half, half), (-1, -1), criteria)
            entry["corners_subpix"] = refined.reshape(-1, 2).round(4).tolist()
            if name not in args.exclude:
                views.append(refined)
                view_names.append(name)
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
    if len(views) >= 3 and args.model == "fisheye":
        calibration = fisheye_calibration(objp, views, view_names, size, files)
        calibration["excluded"] = sorted(args.exclude)
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
