/*
 * projection.h
 *	  A low-dimensional orthonormal projection of vectors (their principal
 *	  subspace, trained on a sample) that gives every vector a short
 *	  "sketch" from which a lower bound on the L2 distance between two
 *	  vectors follows.
 *
 * For an orthonormal basis P (k directions) and a mean m, a vector x has
 * coordinates p = P^T (x - m) and residual r = |x - m - P p|.  Splitting
 * x - y into its part in span(P) and its part orthogonal to it,
 *
 *	 |x - y|^2 = |p_x - p_y|^2 + |res_x - res_y|^2
 *			  >= |p_x - p_y|^2 + (r_x - r_y)^2,
 *
 * so a scan that keeps the sketch of every candidate can rank candidates
 * by this bound and read only those that might be nearer than what it has
 * already found.  The bound holds for any orthonormal P; training on the
 * principal subspace only makes it tight.  Like distance.h, no PostgreSQL
 * headers: the unit test under test/kernels compiles it as is.
 */
#ifndef GV_PROJECTION_H
#define GV_PROJECTION_H

#include <stdint.h>

/* Directions a sketch holds; the sketch is GV_PROJ_DIMS + 1 floats. */
#define GV_PROJ_DIMS		16
#define GV_PROJ_SKETCH		(GV_PROJ_DIMS + 1)

/*
 * Relative slack taken off a bound so that float rounding in sketches and
 * distances never makes it exceed the true distance.
 */
#define GV_PROJ_SLACK		1e-4

/*
 * Train the mean (dim floats) and GV_PROJ_DIMS orthonormal directions
 * (GV_PROJ_DIMS * dim floats, direction-major) of n sample vectors by
 * subspace iteration from a seeded random start.  n must be at least 1.
 * work must hold 2 * GV_PROJ_DIMS * dim doubles.
 */
extern void GvProjTrain(const float *const *sample, int n, int dim, uint64_t seed,
						float *mean, float *dirs, double *work);

/* The sketch of x: its GV_PROJ_DIMS coordinates, then its residual norm. */
extern void GvProjSketch(const float *mean, const float *dirs, int dim,
						 const float *x, float *sketch);

/* A lower bound on |x - y|^2 from the two sketches (slack applied). */
extern double GvProjBound2(const float *sx, const float *sy);

#endif							/* GV_PROJECTION_H */
