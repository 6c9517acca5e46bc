/* model-files.h — where the plug-in finds its models.
 *
 * The plug-in ships its models in a models/ folder beside its executable
 * (plug-ins/seg-grad-cam/models/NAME.safetensors), so an installation is one folder to copy. The
 * PDB's model "" means the bundled default model. The environment variable SEGCAM_MODEL_DIR
 * replaces the folder (tests, and users who keep models elsewhere).
 */
#ifndef SEGCAM_MODEL_FILES_H
#define SEGCAM_MODEL_FILES_H

#include <glib.h>

G_BEGIN_DECLS

/* The bundled default model's file name; without it, the first bundled model (by name) is used. */
#define MODEL_FILES_DEFAULT "texture-mnist-biased.safetensors"
#define MODEL_FILES_EXTENSION ".safetensors"
#define MODEL_FILES_ONNX_EXTENSION ".onnx"  /* imported on load (engine/include/onnx-import.h) */
#define MODEL_FILES_ENV "SEGCAM_MODEL_DIR"

/* The bundled models' folder: $SEGCAM_MODEL_DIR, else models/ beside executable. */
char *model_files_dir (const char *executable);

/* Paths of the bundled models in dir: the default first, then the others by name. Never NULL. */
GPtrArray *model_files_list (const char *dir);

/* The file a model setting names: the setting itself, or for "" (or NULL) the bundled default.
 * Fails with SEGCAM_ERROR_MODEL when "" finds no bundled model. */
char *model_files_resolve (const char *setting, const char *dir, GError **error);

/* Whether path names an ONNX network (by its extension, as the dialogs list them), which the
 * engine imports on loading. */
gboolean model_files_is_onnx (const char *path);

/* A short name for menus and layer names: the file name without its extension. */
char *model_files_label (const char *path);

G_END_DECLS

#endif /* SEGCAM_MODEL_FILES_H */
