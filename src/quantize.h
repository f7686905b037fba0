/*
 * quantize.h
 *	  Compact encodings of float32 vectors for index storage: IEEE half
 *	  precision (2 bytes a dimension), 8-bit integers with one scale per
 *	  vector (1 byte a dimension) and one bit a dimension with two levels
 *	  per vector.  Shared by every access method that keeps
 *	  vectors smaller than the heap does; like distance.h, no PostgreSQL
 *	  headers, so the unit test under test/kernels compiles it as is.
 *
 * Decoding is exact for half (every half is a float) and deterministic for
 * int8; encoding rounds to nearest (ties to even for half), so the same
 * vector always gets the same code.
 */
#ifndef GV_QUANTIZE_H
#define GV_QUANTIZE_H

#include <stdbool.h>
#include <stdint.h>

/* Largest magnitude that half precision rounds to a finite value. */
#define GV_HALF_LIMIT	65520.0f

/* Encode dim floats as halves; false (codes undefined) if |x| >= GV_HALF_LIMIT. */
extern bool GvHalfEncode(const float *x, uint16_t *codes, int dim);
extern void GvHalfDecode(const uint16_t *codes, float *x, int dim);

/*
 * Encode dim floats as x[i] ~ scale * codes[i], codes in -127..127 and
 * scale = max|x| / 127 (0 for a zero vector).
 */
extern void GvInt8Encode(const float *x, int8_t *codes, float *scale, int dim);
extern void GvInt8Decode(const int8_t *codes, float scale, float *x, int dim);

/*
 * Encode dim floats as one bit each, x[i] ~ (bit i ? hi : lo): the bit says
 * whether x[i] is above the vector's mean, lo and hi are the means of the
 * values at or below it and above it.  A two-level code per vector needs no
 * training and suits centred embeddings and non-negative data alike.
 * codes holds (dim + 7) / 8 bytes.
 */
extern void GvBitEncode(const float *x, uint8_t *codes, float *lo, float *hi, int dim);
extern void GvBitDecode(const uint8_t *codes, float lo, float hi, float *x, int dim);

/* Conversion of one value (tests, and the scalar paths). */
extern uint16_t GvFloatToHalf(float f);
extern float GvHalfToFloat(uint16_t h);

#endif							/* GV_QUANTIZE_H */
