#!/usr/bin/env python3
"""Frame -> cutout time: MediaPipe's own Python solution against `samespace bench`.

Both run, one after the other in one go, on the same frames: a still picture
stretched to 640x480 with new camera noise (sigma 3 levels) on every frame.

MediaPipe: `mediapipe.solutions.selfie_segmentation.SelfieSegmentation(
model_selection=0)` (the general model), timed from `process()` until the mask is
at frame size; a second figure adds the RGBA cutout. samespace: the
`segmentation` rows of `samespace bench --still ... --json`, 640x480 general
model on ONNX Runtime, with the default post-processing (bilinear) and with the
guided filter.

Set-up (a venv outside the repository):
    python3 -m venv ~/.cache/mediapipe-venv
    ~/.cache/mediapipe-venv/bin/pip install mediapipe==0.10.21 opencv-python-headless numpy
Run:
    ~/.cache/mediapipe-venv/bin/python scripts/mediapipe-compare.py \
        --samespace $CARGO_TARGET_DIR/debug/samespace
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import cv2
import numpy as np

WIDTH, HEIGHT = 640, 480
SIGMA = 3.0


def percentiles(samples):
    s = sorted(samples)
    at = lambda q: s[round((len(s) - 1) * q)]
    return at(0.5), at(0.95)


def noisy_frames(still_path, count, seed=7):
    bgr = cv2.imread(still_path, cv2.IMREAD_COLOR)
    if bgr is None:
        sys.exit(f"cannot read {still_path}")
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    rgb = cv2.resize(rgb, (WIDTH, HEIGHT), interpolation=cv2.INTER_LINEAR)
    rng = np.random.default_rng(seed)
    base = rgb.astype(np.float32)
    for _ in range(count):
        noisy = base + rng.normal(0.0, SIGMA, base.shape).astype(np.float32)
        yield np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def time_mediapipe(still_path, frames, warmup):
    import mediapipe as mp

    mask_ms, cutout_ms = [], []
    with mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0) as seg:
        for n, frame in enumerate(noisy_frames(still_path, frames + warmup)):
            t0 = time.perf_counter()
            result = seg.process(frame)
            mask = result.segmentation_mask
            if mask.shape[:2] != (HEIGHT, WIDTH):
                mask = cv2.resize(mask, (WIDTH, HEIGHT), interpolation=cv2.INTER_LINEAR)
            t1 = time.perf_counter()
            alpha = np.clip(mask * 255.0 + 0.5, 0, 255).astype(np.uint8)
            rgba = np.dstack((frame * (alpha[..., None] > 0), alpha))
            t2 = time.perf_counter()
            assert rgba.shape == (HEIGHT, WIDTH, 4)
            if n >= warmup:
                mask_ms.append((t1 - t0) * 1000.0)
                cutout_ms.append((t2 - t0) * 1000.0)
    return percentiles(mask_ms), percentiles(cutout_ms)


def time_samespace(binary, still_path, frames):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "bench.json")
        cmd = [
            binary, "bench", "--only", "segmentation", "--backend", "ort",
            "--still", still_path, "--frames", str(frames), "--json", out,
        ]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        with open(out) as f:
            rows = json.load(f)["segmentation"]
    found = {r["refinement"]: r for r in rows if (r["width"], r["height"]) == (WIDTH, HEIGHT)}
    if "guided" not in found or "bilinear" not in found:
        sys.exit(f"no {WIDTH}x{HEIGHT} bilinear and guided rows in samespace's output")
    return found


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target"))
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--samespace", default=os.path.join(target, "debug", "samespace"))
    p.add_argument("--still", default=os.path.join(root, "tests", "data", "astronaut.png"))
    p.add_argument("--frames", type=int, default=100)
    p.add_argument("--warmup", type=int, default=5)
    args = p.parse_args()

    (mp50, mp95), (mc50, mc95) = time_mediapipe(args.still, args.frames, args.warmup)
    rows = time_samespace(args.samespace, args.still, args.frames)
    print(f"{WIDTH}x{HEIGHT}, general model, {args.frames} frames of {args.still} "
          f"with camera noise (sigma {SIGMA}), ms/frame p50 / p95:")
    print(f"  MediaPipe 0.10.21 Python, process + mask at frame size: {mp50:6.2f} / {mp95:6.2f}")
    print(f"  MediaPipe 0.10.21 Python, ... + RGBA cutout:            {mc50:6.2f} / {mc95:6.2f}")
    for name in ("bilinear", "guided"):
        r = rows[name]
        s50, s95 = r["total"]["p50"], r["total"]["p95"]
        print(f"  samespace ({r['backend']}, {name:8}), frame -> cutout:     {s50:6.2f} / {s95:6.2f}"
              f"   (convert {r['convert']['p50']:.2f}, infer {r['infer']['p50']:.2f},"
              f" post {r['post']['p50']:.2f} p50)")
        print(f"    ratio samespace {name} / MediaPipe (mask at frame size): "
              f"p50 {s50 / mp50:.2f}, p95 {s95 / mp95:.2f}")

if __name__ == "__main__":
    main()
