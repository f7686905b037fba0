/*-------------------------------------------------------------------------
 *
 * hnswselect.h
 *	  The HNSW neighbour-selection heuristic, generated for one kind of
 *	  candidate: the in-memory build's (element numbers, distances as order
 *	  keys) and the on-disk insert's and VACUUM's (item pointers, doubles).
 *
 * Given the candidates for a new element's neighbours, nearest first, a
 * candidate is kept if it is nearer to the new element than to every one
 * kept before it (the heuristic of Malkov and Yashunin, without extending
 * the candidates): the neighbours then point in different directions, and
 * a cluster does not take all the slots.  The two graphs differ only in
 * how a candidate's vector is found and how two distances are computed, so
 * that is what the includer supplies; the loop is this one.
 *
 *	#define HNSW_SELECT_NAME		SelectMem
 *	#define HNSW_SELECT_STATE		GvHnswBuilderData
 *	#define HNSW_SELECT_CAND		MemCand
 *	#define HNSW_SELECT_SORT(cands, n)		sort cands[0, n) nearest first
 *	#define HNSW_SELECT_VECTOR(st, c)		the vector of candidate *c, or NULL
 *											to pass over it (a tombstone)
 *	#define HNSW_SELECT_NEARER(st, v, j, kept, c)	whether vector v is
 *											nearer to *kept, the j-th kept
 *											neighbour, than *c is to the new
 *											element
 *	#define HNSW_SELECT_KEEP(st, v, j)		optional: v is the j-th kept
 *											neighbour's vector (to copy it)
 *	#define HNSW_SELECT_PRUNED				optional: leave the rejected
 *											candidates at the front of cands
 *
 * Generated:
 *
 *	static int NAME(STATE *st, CAND *cands, int n, int lm, CAND *out, int *npruned)
 *		writes at most lm of the n candidates to out and returns how many;
 *		with HNSW_SELECT_PRUNED, the rejected ones are at the front of cands,
 *		nearest first, *npruned of them (if npruned is not NULL).
 *
 * src/hnsw/hnswselect.h
 *
 *-------------------------------------------------------------------------
 */

#ifndef HNSW_SELECT_KEEP
#define HNSW_SELECT_KEEP(st, v, j)	((void) 0)
#endif

static int
HNSW_SELECT_NAME(HNSW_SELECT_STATE * st, HNSW_SELECT_CAND * cands, int n, int lm,
				 HNSW_SELECT_CAND * out, int *npruned)
{
	int			nout = 0;
	int			nrejected = 0;

	HNSW_SELECT_SORT(cands, n);
	for (int i = 0; i < n && nout < lm; i++)
	{
		const float *v = HNSW_SELECT_VECTOR(st, &cands[i]);
		bool		good = true;

		if (v == NULL)
			continue;
		for (int j = 0; j < nout; j++)
		{
			if (HNSW_SELECT_NEARER(st, v, j, &out[j], &cands[i]))
			{
				good = false;
				break;
			}
		}
		if (good)
		{
			HNSW_SELECT_KEEP(st, v, nout);
			out[nout++] = cands[i];
		}
#ifdef HNSW_SELECT_PRUNED
		else
			cands[nrejected++] = cands[i];	/* nrejected <= i: already read */
#endif
	}
	if (npruned)
		*npruned = nrejected;
	return nout;
}

#undef HNSW_SELECT_NAME
#undef HNSW_SELECT_STATE
#undef HNSW_SELECT_CAND
#undef HNSW_SELECT_SORT
#undef HNSW_SELECT_VECTOR
#undef HNSW_SELECT_NEARER
#undef HNSW_SELECT_KEEP
#undef HNSW_SELECT_PRUNED
