#!/usr/bin/python3
"""Fits the piecewise-linear channel tables of engine/explain/colormap.c to matplotlib's colormaps.

Usage: /usr/bin/python3 tools/fit-colormaps.py [TOLERANCE]   (in 1/255 units, default 0.5)

matplotlib's turbo, viridis and inferno are 256-entry tables: a value v picks entry
min(int(256 v), 255), so entry i is the colour of v = i/255. Each channel is fitted on its own:
knots are placed on those sample positions, as few as dynamic programming finds such that linear
interpolation between the samples at the knots stays within TOLERANCE of every sample; a least-squares
refit of the knot values then keeps whichever of the two has the smaller maximum error. With a
tolerance of 1/2 the rounded 8-bit colour is never more than 1 away from 255 times matplotlib's.
Prints the C tables to stdout and the fit errors to stderr.
"""
import sys

import numpy as np
import matplotlib

N = 256
X = np.arange(N) / (N - 1)


def fewest_knots(y, tol):
    """Fewest sample indices, 0 and N-1 included, whose linear interpolant stays within tol."""
    best = [0] + [N] * (N - 1)   # knots needed to reach index j
    prev = [0] * N
    for j in range(1, N):
        for i in range(j):
            line = y[i] + (y[j] - y[i]) * (X[i:j + 1] - X[i]) / (X[j] - X[i])
            if best[i] + 1 < best[j] and np.abs(line - y[i:j + 1]).max() <= tol:
                best[j], prev[j] = best[i] + 1, i
    knots = [N - 1]
    while knots[-1] != 0:
        knots.append(prev[knots[-1]])
    return knots[::-1]


def interpolate(knots, values):
    return np.interp(X, X[knots], values)


def least_squares(knots, y):
    hats = np.stack([interpolate(knots, np.eye(len(knots))[k]) for k in range(len(knots))], axis=1)
    return np.linalg.lstsq(hats, y, rcond=None)[0]


def fit_channel(y, tol):
    knots = fewest_knots(y, tol)
    candidates = [y[knots], np.clip(least_squares(knots, y), 0, 1)]
    values = min(candidates, key=lambda v: np.abs(interpolate(knots, v) - y).max())
    return knots, values


def main():
    tol = float(sys.argv[1]) / 255 if len(sys.argv) > 1 else 0.5 / 255
    for name in ("turbo", "viridis", "inferno"):
        lut = matplotlib.colormaps[name](X)[:, :3]
        for c, channel in enumerate("rgb"):
            knots, values = fit_channel(lut[:, c], tol)
            # Check what C will compute: printed (rounded) numbers, then round(255 v).
            xs = [float(f"{X[k]:.4f}") for k in knots]
            ys = [float(f"{v:.4f}") for v in values]
            fitted = np.interp(X, xs, ys)
            error = np.abs(fitted - lut[:, c]).max() * 255
            byte_error = np.abs(np.floor(fitted * 255 + 0.5) - lut[:, c] * 255).max()
            print(f"{name} {channel}: {len(knots)} knots, max error {error:.3f}/255, "
                  f"8-bit {byte_error:.3f}/255", file=sys.stderr)
            pairs = [f"{{{x:.4f}, {v:.4f}}}" for x, v in zip(xs, ys)]
            lines = [", ".join(pairs[i:i + 5]) for i in range(0, len(pairs), 5)]
            print(f"static const knot {name}_{channel}[] = {{\n  " + ",\n  ".join(lines) + "\n};")


if __name__ == "__main__":
    main()
