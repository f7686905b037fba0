/*
 * kdtreevalidate.c
 *	  amvalidate for gv_kdtree operator classes: the shared vector operator
 *	  class rules (GvValidateVectorOpclass).  gvector_ip_ops passes them; it
 *	  is refused at CREATE INDEX, with a hint, not here.
 */
#include "compat.h"

#include "kdtree.h"

bool
kdtreevalidate(Oid opclassoid)
{
	return GvValidateVectorOpclass(opclassoid, "gv_kdtree");
}
