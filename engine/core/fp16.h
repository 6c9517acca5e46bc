/* fp16.h — 16-bit floats widened to binary32, for the containers that store them (safetensors
 * F16 and BF16, ONNX float16 and bfloat16). Assumes IEEE-754 binary32 floats, as every platform
 * GIMP runs on has. */
#ifndef SEGCAM_CORE_FP16_H
#define SEGCAM_CORE_FP16_H

#include <stdint.h>
#include <string.h>

static inline float
segcam_float_from_bits (uint32_t bits)
{
  float f;
  memcpy (&f, &bits, sizeof f);
  return f;
}

/* IEEE-754 binary16, exactly: every half is a float. */
static inline float
segcam_f16_to_f32 (uint16_t h)
{
  uint32_t sign = (uint32_t) (h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  if (exp == 0)
    {
      /* zero or subnormal: mant * 2^-24 is exact in binary32 */
      float v = (float) mant * 0x1p-24f;
      return sign ? -v : v;
    }
  if (exp == 0x1f) /* inf or nan, payload kept */
    return segcam_float_from_bits (sign | 0x7f800000u | mant << 13);
  return segcam_float_from_bits (sign | (exp + 127 - 15) << 23 | mant << 13);
}

/* bfloat16 is the upper half of a binary32. */
static inline float
segcam_bf16_to_f32 (uint16_t h)
{
  return segcam_float_from_bits ((uint32_t) h << 16);
}

#endif /* SEGCAM_CORE_FP16_H */
