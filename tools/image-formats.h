/* image-formats.h — which image files the command line can write, by their names' extensions, so
 * that an output it would write in another format than its name says is refused before any work
 * (README, "Command line"). */
#ifndef SEGCAM_IMAGE_FORMATS_H
#define SEGCAM_IMAGE_FORMATS_H

#include <glib.h>

/* TRUE when path ends in the extension of a format segcam_png_save (image-io.h) writes: ".png",
 * in any case. */
gboolean segcam_image_format_supported (const char *path);

/* The extensions segcam_image_format_supported takes, for messages: ".png". */
#define SEGCAM_IMAGE_FORMATS ".png"

#endif /* SEGCAM_IMAGE_FORMATS_H */
