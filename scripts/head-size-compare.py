#!/usr/bin/env python3
"""Checks samespace's head-size estimate (the mask's head-and-shoulders profile,
`world::arrange::head_size`) against a face landmark model.

Each `--frame PHOTO@X,Y,W,H` cuts a region out of a photo of real people and fits
it, bottom-aligned, into a 640x480 camera frame (sides padded by repeating the
edge pixels), like a webcam that framed that person close up, at half body or
from afar. Then:

1. MediaPipe Face Mesh (0.10.21 from PyPI, the landmark model) measures each
   frame's face height in pixels, from the top of the forehead (landmark 10) to
   the chin (landmark 152). Small faces are found with MediaPipe's full-range
   face detector first and measured on an upscaled crop.
2. `samespace demo --headless`, with one camera per frame, places everyone in
   one room; the report gives each participant's scale (world units per cutout
   pixel), chosen from the profile's head size.
3. Each face's height in the world is its landmark height times that scale.

A perfect head-size estimate gives every face the same height in the world,
whatever the framing; the spread printed (largest / smallest, and each against
the mean) is the error of the profile measured by the landmark model.

Usage (MediaPipe in a venv, as for scripts/mediapipe-compare.py):
    ~/.cache/mediapipe-venv/bin/python scripts/head-size-compare.py \
        --bin target/debug/samespace --out /tmp/heads \
        --frame assets/astronaut.png@0,0,512,384 ...
"""

import argparse
import json
import os
import subprocess
import sys

import cv2
import mediapipe as mp
import numpy as np

FRAME_W, FRAME_H = 640, 480
FOREHEAD, CHIN = 10, 152


def make_frame(photo, region):
    x, y, w, h = region
    crop = photo[y : y + h, x : x + w]
    scale = min(FRAME_W / w, FRAME_H / h)
    cw, ch = max(2, round(w * scale)), max(2, round(h * scale))
    crop = cv2.resize(crop, (cw, ch), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    left = (FRAME_W - cw) // 2
    top = FRAME_H - ch
    return cv2.copyMakeBorder(
        crop, top, 0, left, FRAME_W - cw - left, cv2.BORDER_REPLICATE
    )


def face_height(frame_bgr, detector, mesh):
    """Forehead-to-chin height in pixels of the largest face, or None."""
    rgb = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)
    found = detector.process(rgb)
    if not found.detections:
        return None
    box = max(
        (d.location_data.relative_bounding_box for d in found.detections),
        key=lambda b: b.width * b.height,
    )
    # A square crop around the face with a wide margin, upscaled so that Face
    # Mesh sees the face large whatever the framing.
    cx = (box.xmin + box.width / 2) * FRAME_W
    cy = (box.ymin + box.height / 2) * FRAME_H
    side = max(box.width * FRAME_W, box.height * FRAME_H) * 2.2
    x0, y0 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
    x1, y1 = int(min(FRAME_W, cx + side / 2)), int(min(FRAME_H, cy + side / 2))
    crop = rgb[y0:y1, x0:x1]
    up = 480 / max(crop.shape[:2])
    crop = cv2.resize(crop, None, fx=up, fy=up, interpolation=cv2.INTER_CUBIC)
    marks = mesh.process(crop)
    if not marks.multi_face_landmarks:
        return None
    lm = marks.multi_face_landmarks[0].landmark
    ch, cw = crop.shape[:2]
    dx = (lm[FOREHEAD].x - lm[CHIN].x) * cw
    dy = (lm[FOREHEAD].y - lm[CHIN].y) * ch
    return float(np.hypot(dx, dy)) / up


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", required=True, help="the samespace binary")
    ap.add_argument("--out", required=True, help="folder for frames, report and snapshot")
    ap.add_argument("--frame", action="append", required=True, help="PHOTO@X,Y,W,H")
    ap.add_argument("--seconds", default="8")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    frames = []
    detector = mp.solutions.face_detection.FaceDetection(model_selection=1, min_detection_confidence=0.4)
    mesh = mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1)
    for i, spec in enumerate(args.frame):
        path, _, region = spec.rpartition("@")
        photo = cv2.imread(path)
        if photo is None:
            sys.exit(f"cannot read {path}")
        region = tuple(int(v) for v in region.split(","))
        frame = make_frame(photo, region)
        out = os.path.join(args.out, f"frame{i}.png")
        cv2.imwrite(out, frame)
        face = face_height(frame, detector, mesh)
        if face is None:
            sys.exit(f"the landmark model found no face in {out} ({spec})")
        frames.append((spec, out, face))

    report = os.path.join(args.out, "report.json")
    cmd = [args.bin, "demo", "--headless", "--seconds", args.seconds,
           "--participants", str(len(frames)), "--report", report,
           "--snapshot", os.path.join(args.out, "snapshot.png")]
    for _, out, _ in frames:
        cmd += ["--camera", out]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with open(report) as f:
        people = json.load(f)["participants"]
    if len(people) != len(frames):
        sys.exit(f"{len(people)} participants in the report for {len(frames)} frames")

    world = []
    print(f"{'frame':<46} {'face px':>8} {'scale':>7} {'face in world':>14}")
    for (spec, out, face), person in zip(frames, people):
        scale = person["placement"]["scale"]
        world.append(face * scale)
        print(f"{os.path.basename(spec):<46} {face:8.1f} {scale:7.3f} {face * scale:14.1f}")
    mean = sum(world) / len(world)
    print(
        f"faces in the world: mean {mean:.1f}, {100 * (min(world) / mean - 1):+.1f} % … "
        f"{100 * (max(world) / mean - 1):+.1f} % of it; largest / smallest {max(world) / min(world):.3f}"
    )


if __name__ == "__main__":
    main()
