#!/usr/bin/env python3
"""Prints the centre "X Y" of a phrase on a screenshot, read with tesseract.

Usage: ocr_find.py SHOT.png "Create room" [X0 Y0 X1 Y1]
The optional box limits the search to one window. Exit status 1 when not found.
"""
import csv
import os
import re
import subprocess
import sys


SCALE = 2


def words(shot, box=None):
    """Words with their boxes (in the screenshot's pixels), read once per shot and
    box: the result is cached beside the shot, so asking for several phrases costs
    one OCR run. Only the box is read (half the screen for one of two windows)."""
    key = "full" if box is None else "-".join(str(v) for v in box)
    cache = f"{shot}.{key}.tsv"
    if not (os.path.exists(cache) and os.path.getmtime(cache) >= os.path.getmtime(shot)):
        # egui's small text reads much better at twice the size.
        big = f"{shot}.{key}.ocr.png"
        crop = [] if box is None else ["-crop", f"{box[2] - box[0]}x{box[3] - box[1]}+{box[0]}+{box[1]}", "+repage"]
        # Grey and inverted: dark text on a light ground, as tesseract likes it (the
        # lobby's red error line is not read otherwise).
        subprocess.run(
            ["convert", shot, *crop, "-resize", f"{SCALE * 100}%", "-colorspace", "Gray", "-negate", big],
            check=True,
        )
        tsv = subprocess.run(
            ["tesseract", big, "-", "--psm", "11", "tsv"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        with open(cache, "w") as f:
            f.write(tsv)
    with open(cache) as f:
        tsv = f.read()
    dx, dy = (0, 0) if box is None else (box[0], box[1])
    rows = list(csv.DictReader(tsv.splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE))
    out = []
    for r in rows:
        text = (r.get("text") or "").strip()
        if text:
            x, y, w, h = (int(r[k]) // SCALE for k in ("left", "top", "width", "height"))
            out.append((text, x + dx, y + dy, w, h))
    return out


def bare(word):
    """A word without the marks OCR reads around it: "(Bob" for the speaker icon
    before a name, "(P}" for a bracket, a trailing full stop."""
    return re.sub(r"^\W+|\W+$", "", word.lower())


def main():
    shot, phrase = sys.argv[1], sys.argv[2].split()
    box = [int(v) for v in sys.argv[3:7]] if len(sys.argv) >= 7 else None
    found = words(shot, box)
    n = len(phrase)
    for i in range(len(found) - n + 1):
        run = found[i : i + n]
        if [bare(w[0]) for w in run] == [bare(p) for p in phrase]:
            x0 = min(w[1] for w in run)
            y0 = min(w[2] for w in run)
            x1 = max(w[1] + w[3] for w in run)
            y1 = max(w[2] + w[4] for w in run)
            print((x0 + x1) // 2, (y0 + y1) // 2)
            return 0
    print(f"{' '.join(phrase)!r} not found; words: {[w[0] for w in found]}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
