#!/usr/bin/python3
"""Compares segcam's colormaps with matplotlib's: every channel of the 256 colours of v = i/255
within 2/255 of 255 x matplotlib's.

Usage: colormap-reference.py PATH-OF-test-colormap. Exits 77 (skipped) without matplotlib.
"""
import subprocess
import sys

try:
    import numpy as np
    import matplotlib
except ImportError:
    print("matplotlib is not installed: skipped")
    sys.exit(77)

TOLERANCE = 2
NAMES = {"jet": "jet", "turbo": "turbo", "viridis": "viridis", "inferno": "inferno",
         "grayscale": "gray"}


def main():
    test_colormap = sys.argv[1]
    passed = failed = 0
    for ours, theirs in NAMES.items():
        dump = subprocess.run([test_colormap, "--dump", ours], capture_output=True, text=True,
                              check=True).stdout
        got = np.array([[int(c) for c in line.split()] for line in dump.splitlines()])
        want = matplotlib.colormaps[theirs](np.arange(256) / 255)[:, :3] * 255
        error = np.abs(got - want).max(axis=1) if got.shape == want.shape else np.array([np.inf])
        worst = int(error.argmax())
        ok = error.max() <= TOLERANCE
        passed += ok
        failed += not ok
        print(f"{'ok' if ok else 'FAIL'} {ours}: max error {error.max():.3f}/255 at entry {worst}")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
