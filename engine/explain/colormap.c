/* colormap.c — heat-map colours: matplotlib's jet, turbo, viridis and inferno, and grayscale. */
#include "segcam.h"

#include <math.h>
#include <string.h>

/* A channel is piecewise linear in v between knots of increasing x, from x = 0 to x = 1. */
typedef struct { double x, y; } knot;

/* jet is matplotlib's _jet_data, exact. */
static const knot jet_r[] = {{0, 0}, {0.35, 0}, {0.66, 1}, {0.89, 1}, {1, 0.5}};
static const knot jet_g[] = {{0, 0}, {0.125, 0}, {0.375, 1}, {0.64, 1}, {0.91, 0}, {1, 0}};
static const knot jet_b[] = {{0, 0.5}, {0.11, 1}, {0.34, 1}, {0.65, 0}, {1, 0}};

/* turbo, viridis and inferno are matplotlib's 256-entry tables, not copied but fitted by
 * tools/fit-colormaps.py: knots at entries (entry i is v = i/255), as few as keep every entry's
 * channels within 0.5/255, so the 8-bit colours below are within 1 of 255 x matplotlib's. */
static const knot turbo_r[] = {
  {0.0000, 0.1900}, {0.0039, 0.1958}, {0.0431, 0.2370}, {0.0824, 0.2639}, {0.1216, 0.2769},
  {0.1608, 0.2758}, {0.1804, 0.2670}, {0.2039, 0.2403}, {0.2627, 0.1383}, {0.2863, 0.1061},
  {0.3059, 0.0928}, {0.3216, 0.0935}, {0.3373, 0.1071}, {0.3529, 0.1341}, {0.3725, 0.1837},
  {0.3961, 0.2601}, {0.4667, 0.5338}, {0.4902, 0.6121}, {0.5412, 0.7471}, {0.5843, 0.8514},
  {0.6157, 0.9142}, {0.6431, 0.9566}, {0.6667, 0.9810}, {0.6941, 0.9954}, {0.7216, 0.9970},
  {0.7529, 0.9849}, {0.7882, 0.9551}, {0.8235, 0.9113}, {0.8588, 0.8550}, {0.8941, 0.7838},
  {0.9294, 0.6977}, {0.9647, 0.5968}, {1.0000, 0.4806}
};
static const knot turbo_g[] = {
  {0.0000, 0.0719}, {0.0431, 0.1982}, {0.1137, 0.3917}, {0.2314, 0.6888}, {0.2784, 0.7989},
  {0.3137, 0.8667}, {0.3451, 0.9130}, {0.3843, 0.9580}, {0.4196, 0.9860}, {0.4549, 0.9995},
  {0.4863, 0.9975}, {0.5137, 0.9834}, {0.5412, 0.9571}, {0.5765, 0.9075}, {0.6157, 0.8370},
  {0.6745, 0.7136}, {0.7020, 0.6443}, {0.7961, 0.3650}, {0.8275, 0.2857}, {0.8706, 0.1980},
  {0.9137, 0.1237}, {0.9569, 0.0625}, {1.0000, 0.0149}
};
static const knot turbo_b[] = {
  {0.0000, 0.2323}, {0.0118, 0.3193}, {0.0314, 0.4522}, {0.0510, 0.5705}, {0.0706, 0.6749},
  {0.0902, 0.7652}, {0.1098, 0.8415}, {0.1294, 0.9037}, {0.1490, 0.9518}, {0.1686, 0.9858},
  {0.1843, 0.9988}, {0.2000, 0.9978}, {0.2157, 0.9854}, {0.2353, 0.9559}, {0.2588, 0.9065},
  {0.3059, 0.7823}, {0.3451, 0.6865}, {0.3686, 0.6211}, {0.4157, 0.4632}, {0.4510, 0.3480},
  {0.4745, 0.2853}, {0.4941, 0.2446}, {0.5137, 0.2186}, {0.5333, 0.2054}, {0.5608, 0.2023},
  {0.6196, 0.2249}, {0.6510, 0.2291}, {0.6745, 0.2173}, {0.7059, 0.1889}, {0.7686, 0.1079},
  {0.8118, 0.0568}, {0.8471, 0.0319}, {0.8980, 0.0103}, {0.9490, 0.0028}, {1.0000, 0.0095}
};
static const knot viridis_r[] = {
  {0.0000, 0.2679}, {0.0510, 0.2821}, {0.1059, 0.2830}, {0.1686, 0.2685}, {0.3373, 0.1881},
  {0.4980, 0.1272}, {0.5490, 0.1182}, {0.5843, 0.1251}, {0.6157, 0.1455}, {0.6471, 0.1796},
  {0.6824, 0.2316}, {0.7255, 0.3107}, {0.7725, 0.4119}, {0.8275, 0.5439}, {0.9412, 0.8458},
  {1.0000, 0.9948}
};
static const knot viridis_g[] = {
  {0.0000, 0.0036}, {0.0588, 0.0901}, {0.0902, 0.1319}, {0.2078, 0.2756}, {0.3098, 0.3852},
  {0.5922, 0.6523}, {0.7176, 0.7630}, {0.8039, 0.8251}, {0.8784, 0.8652}, {1.0000, 0.9069}
};
static const knot viridis_b[] = {
  {0.0000, 0.3296}, {0.0353, 0.3821}, {0.0863, 0.4462}, {0.1333, 0.4910}, {0.1804, 0.5219},
  {0.2353, 0.5432}, {0.3176, 0.5562}, {0.4431, 0.5584}, {0.5255, 0.5469}, {0.5882, 0.5247},
  {0.6471, 0.4894}, {0.7020, 0.4418}, {0.7569, 0.3791}, {0.8118, 0.3019}, {0.9098, 0.1367},
  {0.9333, 0.1050}, {0.9490, 0.0951}, {0.9647, 0.0971}, {0.9804, 0.1119}, {1.0000, 0.1433}
};
static const knot inferno_r[] = {
  {0.0000, 0.0016}, {0.0118, 0.0036}, {0.0431, 0.0212}, {0.0706, 0.0508}, {0.1137, 0.1087},
  {0.2039, 0.2660}, {0.4510, 0.6595}, {0.5373, 0.7873}, {0.6000, 0.8662}, {0.6549, 0.9211},
  {0.7059, 0.9580}, {0.7569, 0.9809}, {0.8078, 0.9891}, {0.8588, 0.9827}, {0.9373, 0.9484},
  {0.9608, 0.9464}, {0.9804, 0.9608}, {1.0000, 0.9878}
};
static const knot inferno_g[] = {
  {0.0000, 0.0008}, {0.0118, 0.0017}, {0.0824, 0.0385}, {0.1137, 0.0492}, {0.1843, 0.0353},
  {0.2157, 0.0426}, {0.4549, 0.1802}, {0.5216, 0.2313}, {0.5765, 0.2872}, {0.6314, 0.3576},
  {0.6941, 0.4545}, {0.7725, 0.5922}, {0.9294, 0.8967}, {0.9647, 0.9565}, {1.0000, 0.9991}
};
static const knot inferno_b[] = {
  {0.0000, 0.0134}, {0.0118, 0.0304}, {0.0510, 0.1133}, {0.1333, 0.3091}, {0.1569, 0.3561},
  {0.1804, 0.3892}, {0.2078, 0.4130}, {0.2431, 0.4287}, {0.2941, 0.4344}, {0.3529, 0.4247},
  {0.4118, 0.3994}, {0.4706, 0.3589}, {0.5373, 0.2967}, {0.6275, 0.1950}, {0.7451, 0.0438},
  {0.7647, 0.0248}, {0.7804, 0.0234}, {0.7961, 0.0336}, {0.8196, 0.0714}, {0.8510, 0.1374},
  {0.8824, 0.2157}, {0.9098, 0.2970}, {0.9333, 0.3786}, {0.9765, 0.5565}, {1.0000, 0.6461}
};

static const struct {
  const char *name;
  const knot *rgb[3];   /* NULL for grayscale, which is not quantised like the others */
} colormaps[] = {
  [SEGCAM_COLORMAP_JET] = {"jet", {jet_r, jet_g, jet_b}},
  [SEGCAM_COLORMAP_TURBO] = {"turbo", {turbo_r, turbo_g, turbo_b}},
  [SEGCAM_COLORMAP_VIRIDIS] = {"viridis", {viridis_r, viridis_g, viridis_b}},
  [SEGCAM_COLORMAP_INFERNO] = {"inferno", {inferno_r, inferno_g, inferno_b}},
  [SEGCAM_COLORMAP_GRAYSCALE] = {"grayscale", {NULL, NULL, NULL}},
};

int segcam_colormap_from_name (const char *name)
{
  if (g_strcmp0 (name, "gray") == 0)
    return SEGCAM_COLORMAP_GRAYSCALE;
  for (int i = 0; i < (int) G_N_ELEMENTS (colormaps); i++)
    if (g_strcmp0 (name, colormaps[i].name) == 0)
      return i;
  return -1;
}

const char *segcam_colormap_name (SegcamColormap colormap)
{
  return (unsigned) colormap < G_N_ELEMENTS (colormaps) ? colormaps[colormap].name : NULL;
}

static double channel_at (const knot *k, double v)
{
  while (k[1].x < v)
    k++;
  return k[0].y + (v - k[0].x) * (k[1].y - k[0].y) / (k[1].x - k[0].x);
}

/* NaN counts as 0. */
static float clamp01 (float v)
{
  return v > 0 ? (v < 1 ? v : 1) : 0;
}

void segcam_colormap_apply (SegcamColormap colormap, const float *values, size_t n, uint8_t *rgb)
{
  g_return_if_fail ((unsigned) colormap < G_N_ELEMENTS (colormaps));
  const knot *const *channels = colormaps[colormap].rgb;
  if (channels[0] == NULL) {
    for (size_t i = 0; i < n; i++)
      rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = (uint8_t) round (255.0 * clamp01 (values[i]));
    return;
  }
  /* As matplotlib does: v picks entry min(int(256 v), 255) of a 256-colour table whose entry i is
   * the colour at v = i/255, so every value gets the entry matplotlib picks for it. */
  uint8_t lut[256][3];
  for (int i = 0; i < 256; i++)
    for (int c = 0; c < 3; c++)
      lut[i][c] = (uint8_t) round (255 * channel_at (channels[c], i / 255.0));
  for (size_t i = 0; i < n; i++) {
    int entry = (int) (256 * clamp01 (values[i]));
    memcpy (rgb + 3 * i, lut[MIN (entry, 255)], 3);
  }
}
