"""OpenCV's calibration of the same target images, for comparison with reel's.

Usage: check_calib_opencv.py IMAGES_DIR COLS ROWS SQUARE_M REEL_OPENCV_YAML

Runs cv2.findChessboardCorners + cornerSubPix + calibrateCamera (5
coefficients, as reel's pinhole-radtan) on every PNG/JPEG in the folder,
reads reel's FileStorage YAML with cv2.FileStorage, and prints both as JSON.
"""
import json
import pathlib
import sys

import cv2
import numpy as np


def main() -> None:
    folder, cols, rows, square, reel_yaml = sys.argv[1:6]
    cols, rows, square = int(cols), int(rows), float(square)
    objp = np.zeros((cols * rows, 3), np.float32)
    objp[:, :2] = np.mgrid[0:cols, 0:rows].T.reshape(-1, 2) * square
    obj, img, size = [], [], None
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 30, 1e-3)
    paths = sorted(p for p in pathlib.Path(folder).iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    for p in paths:
        gray = cv2.imread(str(p), cv2.IMREAD_GRAYSCALE)
        size = gray.shape[::-1]
        ok, corners = cv2.findChessboardCorners(gray, (cols, rows))
        if not ok:
            continue
        corners = cv2.cornerSubPix(gray, corners, (5, 5), (-1, -1), criteria)
        obj.append(objp)
        img.append(corners)
    rms, k, d, _, _ = cv2.calibrateCamera(obj, img, size, None, None)
    fs = cv2.FileStorage(reel_yaml, cv2.FILE_STORAGE_READ)
    reel_k = fs.getNode("camera_matrix").mat()
    reel_d = fs.getNode("distortion_coefficients").mat()
    print(json.dumps({
        "views": len(obj),
        "images": len(paths),
        "opencv": {"fx": k[0, 0], "fy": k[1, 1], "cx": k[0, 2], "cy": k[1, 2], "d": d.ravel().tolist(), "rms": rms},
        "reel_yaml": {"fx": reel_k[0, 0], "fy": reel_k[1, 1], "cx": reel_k[0, 2], "cy": reel_k[1, 2], "d": reel_d.ravel().tolist()},
    }))


if __name__ == "__main__":
    main()
