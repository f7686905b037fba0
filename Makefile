# gigavector — PGXS build.
#
#   make && make install          build and install into the server found by pg_config
#   make installcheck             pg_regress tests against a running server
#   make SIMD=no                  build without the AVX2/AVX-512 intrinsics tiers
#   make WERROR=yes               turn warnings into errors (CI does this)
#   make ASSERTS=yes              compile our Assert()s in, even against a
#                                 server built without --enable-cassert
#   make SANITIZE=yes             AddressSanitizer + UndefinedBehaviorSanitizer
#                                 (gcc); such a gigavector.so loads only into a
#                                 server started with libasan preloaded
#                                 (test/sanitize, bash test/run sanitize)
#
# The SIMD tiers are picked at load time by cpuid, so the default build is
# portable across x86-64 CPUs; SIMD=no is for compilers without the
# intrinsics or for checking the portable kernels alone.

EXTENSION = gigavector
EXTVERSION = 0.1.0

MODULE_big = gigavector
OBJS = \
	src/gigavector.o \
	src/gvector.o \
	src/distmemo.o \
	src/gvparse.o \
	src/ghalfvec.o \
	src/gbit.o \
	src/gsparsevec.o \
	src/distance.o \
	src/quantize.o \
	src/projection.o \
	src/gvpage.o \
	src/gvmetric.o \
	src/gvheapfetch.o \
	src/gvam.o \
	src/gvparallel.o \
	src/gvfilter.o src/gvfilterjsonb.o src/gvplanner.o \
	gpu/gv_gpu.o \
	src/hnsw/hnsw.o src/hnsw/hnswbuild.o src/hnsw/hnswgraph.o src/hnsw/hnswbuildparallel.o src/hnsw/hnswinsert.o \
	src/hnsw/hnswkeydir.o src/hnsw/hnswscan.o src/hnsw/hnswsearch.o src/hnsw/hnswutils.o src/hnsw/hnswvacuum.o \
	src/hnsw/hnswvalidate.o \
	src/kdtree/kdtree.o src/kdtree/kdtreebuild.o src/kdtree/kdtreeinsert.o src/kdtree/kdtreescan.o \
	src/kdtree/kdtreeutils.o src/kdtree/kdtreevacuum.o src/kdtree/kdtreevalidate.o \
	src/ivfpq/ivfpq.o src/ivfpq/ivfpqbuild.o src/ivfpq/ivfpqkmeans.o src/ivfpq/ivfpqcodebook.o \
	src/ivfpq/ivfpqinsert.o src/ivfpq/ivfpqscan.o src/ivfpq/ivfpqvacuum.o src/ivfpq/ivfpqutils.o \
	src/ivfpq/ivfpqvalidate.o \
	src/bm25/bm25.o src/bm25/bm25build.o src/bm25/bm25buildparallel.o src/bm25/bm25insert.o src/bm25/bm25scan.o \
	src/bm25/bm25utils.o src/bm25/bm25vacuum.o src/bm25/bm25validate.o src/bm25/bm25planner.o \
	src/backup/gvbwrite.o src/backup/gvbread.o src/backup/gvbackup.o src/backup/gvrestore.o \
	src/worker/worker.o src/worker/ttl.o \
	src/worker/gpu.o src/worker/gpucpu.o src/worker/gpustore.o src/worker/gpusql.o \
	src/hybrid.o src/maxsim.o src/shard.o

# The install script is generated: sql/install/*.sql in name order, one
# file per part (00_gvector.sql first, then one per access method).
INSTALL_PARTS = $(sort $(wildcard $(srcdir)/sql/install/*.sql))
DATA_built = sql/gigavector--$(EXTVERSION).sql

# Explicit, so the install scripts in sql/ never run as tests; test_setup
# (the helpers the others share, in schema regress) first.
REGRESS = test_setup gvector cast distance arithmetic btree aggregate copy hnsw hnsw_storage hnsw_filter hnsw_filter_range hnsw_filter_jsonb hnsw_memo kdtree ivfpq ivfpq_filter \
	l1 ghalfvec gbit gsparsevec migrate \
	magnitude backup ttl bm25 hybrid gpu maxsim planner_scale
REGRESS_OPTS = --inputdir=. --load-extension=$(EXTENSION)

PG_CONFIG ?= pg_config

SIMD ?= yes
WERROR ?= no
ASSERTS ?= no
OPTFLAGS ?=

PG_CPPFLAGS = -I$(libpq_srcdir) -I$(srcdir)/src -I$(srcdir)/gpu -I$(srcdir)/src/hnsw -DGV_EXTVERSION='"$(EXTVERSION)"'
# .gvb backups are compressed with zstd (libzstd-dev)
SHLIB_LINK = -lzstd
# distributed searches talk to their shards with libpq, linked as contrib/dblink does
SHLIB_LINK_INTERNAL = $(libpq)
# -Wextra, minus the noise PostgreSQL's own headers and fmgr macros make.
# Unused parameters warn in our code (a callback whose signature PostgreSQL
# fixes marks the ones it ignores pg_attribute_unused()); the server's
# headers, whose inline functions ignore some without assertions, are
# system headers to the compiler.
PG_CFLAGS = -Wextra -Wno-sign-compare \
	-Wno-missing-field-initializers $(OPTFLAGS)
PG_CPPFLAGS += -isystem $(includedir_server) -isystem $(includedir_internal)
ifeq ($(SIMD),no)
PG_CFLAGS += -DGV_NO_SIMD
endif
ifeq ($(ASSERTS),yes)
PG_CFLAGS += -DUSE_ASSERT_CHECKING
endif
ifeq ($(WERROR),yes)
PG_CFLAGS += -Werror
endif
SANITIZE ?= no
ifeq ($(SANITIZE),yes)
# every report aborts the backend, so that the test that caused it sees it
GV_SANITIZE_FLAGS = -fsanitize=address,undefined,float-cast-overflow \
	-fno-sanitize-recover=all -fno-omit-frame-pointer
PG_CFLAGS += $(GV_SANITIZE_FLAGS)
SHLIB_LINK += $(GV_SANITIZE_FLAGS)
endif

# Export only the entry points PostgreSQL looks up by name: the magic block,
# _PG_init, every SQL-callable function (PG_FUNCTION_INFO_V1) with its info
# record, and the entry points of background and parallel workers, which are
# named by string (their names end in Main or _main, e.g.
# GvHnswParallelBuildMain).  Everything else stays
# local, so our helpers cannot clash with another library's symbols.  On
# PostgreSQL 15 PGDLLEXPORT is empty, hence a version script rather than
# -fvisibility=hidden.
EXPORTS_MAP = gigavector.exports
SHLIB_LINK += -Wl,--version-script=$(EXPORTS_MAP)
EXTRA_CLEAN += $(EXPORTS_MAP)

# LLVM bitcode only lets the JIT inline our functions; building it would
# make clang a requirement of every install, so we skip it.
override with_llvm = no

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# Every pg_finfo_X record the objects define names an SQL-callable X.
$(EXPORTS_MAP): $(OBJS)
	{ echo '{ global: Pg_magic_func; _PG_init; pg_finfo_*; *Main; *_main;'; \
	  nm --defined-only $(OBJS) | sed -n 's/.* T pg_finfo_\([A-Za-z0-9_]*\)$$/\1;/p' | sort -u; \
	  echo 'local: *; };'; } > $@

$(MODULE_big)$(DLSUFFIX): $(EXPORTS_MAP)

sql/gigavector--$(EXTVERSION).sql: $(INSTALL_PARTS)
	cat $^ > $@

.PHONY: kernel-check
kernel-check:
	$(MAKE) -C test/kernels check

# PGXS tracks no header dependencies: rebuild every object when a header
# changes (the access methods share structs through them).
$(OBJS): $(wildcard $(srcdir)/src/*.h $(srcdir)/src/*/*.h $(srcdir)/gpu/*.h)

# The CUDA backend (gpu/Makefile.cuda): built whenever nvcc is found, unless
# CUDA=no; gigavector.so never links it (the GPU worker dlopen()s it).
NVCC ?= $(firstword $(shell command -v nvcc 2>/dev/null) $(wildcard /usr/local/cuda/bin/nvcc))
CUDA ?= $(if $(NVCC),yes,no)
ifeq ($(CUDA),yes)
PG_CPPFLAGS += -DGV_WITH_CUDA
all: gpu/gigavector_cuda.so
install: install-cuda
gpu/gigavector_cuda.so: gpu/gv_cuda.cu gpu/gv_gpu.h gpu/Makefile.cuda
	$(MAKE) -f gpu/Makefile.cuda NVCC=$(NVCC) $@
.PHONY: install-cuda
install-cuda: gpu/gigavector_cuda.so
	$(INSTALL_SHLIB) gpu/gigavector_cuda.so '$(DESTDIR)$(pkglibdir)/gigavector_cuda.so'
endif
EXTRA_CLEAN += gpu/gigavector_cuda.so
