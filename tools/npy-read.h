/* npy-read.h — reading a map back from a NumPy .npy file (evaluate's --map). */
#ifndef SEGCAM_NPY_READ_H
#define SEGCAM_NPY_READ_H

#include <glib.h>

/* Reads a float32 or float64 little-endian C-order array of shape (height, width) or
 * (1, height, width), as segcam explain --map-npy writes it, into a g_malloc'd float buffer. Any
 * other file (another dtype or shape, a truncated or oversized file, a malformed header) is an
 * error naming the path and what is wrong. */
float *segcam_npy_load_map (const char *path, int width, int height, GError **error);

#endif /* SEGCAM_NPY_READ_H */
