/*
 * gpu.c
 *	  The GPU search service: its settings, its shared memory, the worker
 *	  that owns the device, and the client side backends call.
 *
 *	  One worker per cluster ("gigavector gpu worker", a service of
 *	  worker.c's frame, connected to no database) owns the CUDA context and
 *	  the resident collections (gpustore.c).  A backend never touches CUDA.
 *	  It writes a request into a DSM segment of its own, puts the segment's
 *	  handle into a free slot of the ring in shared memory, sets the
 *	  worker's latch and waits on its own; the worker attaches, answers in
 *	  the segment, marks the slot done and sets the backend's latch.
 *
 *	  Cancellation: a backend interrupted while waiting (statement_timeout,
 *	  pg_cancel_backend) frees its slot if the worker has not taken it yet,
 *	  or marks it abandoned; the worker finishes an abandoned request into
 *	  its own mapping of the segment and frees the slot.  Nothing the
 *	  worker holds depends on the backend, so it stays healthy.
 *
 *	  Restarts: a worker that dies by a signal takes the cluster through
 *	  crash recovery and is started again with it; one that exits with an
 *	  error is started again after GPU_RESTART_S.  A new worker marks the
 *	  requests its predecessor had taken as failed (their backends get an
 *	  error) and serves the ones still pending.  Its store starts empty:
 *	  searches find their collection not loaded and reload it (gpusql.c).
 */
/* wake-ups by PGPROC number: compat.h */
#define GV_COMPAT_PROCS
#include "compat.h"

#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "worker.h"
#include "gpu.h"

#define GPU_SLOTS		64

typedef enum SlotState
{
	SLOT_FREE,
	SLOT_PENDING,				/* submitted, not yet taken */
	SLOT_RUNNING,				/* the worker is answering */
	SLOT_DONE,					/* answered; the backend frees it */
	SLOT_ABANDONED,				/* running, its backend gone: the worker frees
								 * it */
	SLOT_FAILED					/* the worker died while answering */
} SlotState;

typedef struct GpuSlot
{
	SlotState	state;
	uint64		seq;			/* submission order */
	int			backend_procno;
	dsm_handle	handle;
} GpuSlot;

typedef struct GpuShared
{
	slock_t		mutex;
	int			worker_procno;	/* -1: no worker ready */
	uint64		next_seq;
	uint64		generation;		/* worker starts */
	bool		cuda;			/* the worker uses CUDA */
	char		reason[256];	/* why not, when it does not */
	int			ndevices;
	GvGpuDeviceInfo devices[GPU_MAX_DEVICES];
	int			ncollections;
	GpuCollectionStatus collections[GPU_MAX_COLLECTIONS];
	GpuSlot		slots[GPU_SLOTS];
} GpuShared;

#define GPU_RESTART_S	1

int			gv_gpu_mode = GPU_MODE_AUTO;
int			gv_gpu_memory_limit_mb = 0;
int			gv_gpu_test_delay_ms = 0;

static GpuShared *shared = NULL;
static bool service_registered = false;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static const struct config_enum_entry gpu_mode_options[] = {
	{"auto", GPU_MODE_AUTO, false},
	{"on", GPU_MODE_ON, false},
	{"off", GPU_MODE_OFF, false},
	{NULL, 0, false}
};

static void
GpuShmemRequest(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(GpuShared)));
}

static void
GpuShmemStartup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared = ShmemInitStruct("gigavector gpu service", sizeof(GpuShared), &found);
	if (!found)
	{
		memset(shared, 0, sizeof(GpuShared));
		SpinLockInit(&shared->mutex);
		shared->worker_procno = -1;
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * Settings; with shared_preload_libraries, the shared memory and the
 * worker too.
 */
void
GvGpuInit(void)
{
	DefineCustomEnumVariable("gigavector.gpu",
							 "Whether the GPU search worker uses CUDA: auto, on or off.",
							 "auto: CUDA when gigavector_cuda.so loads and finds a device, "
							 "else the CPU backend; on: CUDA or searches fail; off: the CPU backend.",
							 &gv_gpu_mode, GPU_MODE_AUTO, gpu_mode_options,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("gigavector.gpu_memory_limit",
							"Most memory the GPU search worker's loaded collections may take.",
							"0: no limit but the device's (or the host's) own.",
							&gv_gpu_memory_limit_mb, 0, 0, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_MB, NULL, NULL, NULL);
	DefineCustomIntVariable("gigavector.gpu_cpu_threads",
							"Threads the CPU backend of GPU search uses for one batch.",
							"0: one per CPU, at most 16.  Small searches use fewer.",
							&gv_gpu_cpu_threads, 0, 0, 64,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("gigavector.gpu_test_delay_ms",
							"Milliseconds the GPU worker waits before answering (for tests).",
							NULL,
							&gv_gpu_test_delay_ms, 0, 0, 600000,
							PGC_SUSET, GUC_UNIT_MS | GUC_NOT_IN_SAMPLE, NULL, NULL, NULL);

	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = GpuShmemRequest;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = GpuShmemStartup;
	service_registered = GvWorkerRegisterService("gpu", "gv_gpu_worker_main", GPU_RESTART_S);
}

Size
GpuRequestSize(GpuOp op, int64 n, int dim, int nq, int k)
{
	Size		size = GPU_ALIGN(sizeof(GpuRequest));

	if (op == GPU_OP_LOAD)
		size += GPU_ALIGN(sizeof(int64) * n) + GPU_ALIGN(sizeof(float) * (Size) n * dim);
	else if (op == GPU_OP_SEARCH)
		size += GPU_ALIGN(sizeof(float) * (Size) nq * dim) + GPU_ALIGN(sizeof(int32) * nq) +
			GPU_ALIGN(sizeof(int64) * (Size) nq * k) + GPU_ALIGN(sizeof(double) * (Size) nq * k);
	return size;
}

/* ---------------------------------------------------------------------------
 * The client side
 * ---------------------------------------------------------------------------
 */

/* Whether requests go to the worker: preloaded and the worker is up. */
bool
GpuServiceRunning(void)
{
	bool		up;

	if (shared == NULL)
		return false;
	SpinLockAcquire(&shared->mutex);
	up = shared->worker_procno >= 0;
	SpinLockRelease(&shared->mutex);
	return up;
}

static void
WakeProc(int procno)
{
	if (procno >= 0)
		GvSetProcLatch(procno);
}

/* Leave a slot on an error: free it, or leave it to the worker. */
static void
ReleaseSlot(int slot)
{
	SpinLockAcquire(&shared->mutex);
	if (shared->slots[slot].state == SLOT_RUNNING)
		shared->slots[slot].state = SLOT_ABANDONED;
	else
		shared->slots[slot].state = SLOT_FREE;
	SpinLockRelease(&shared->mutex);
}

/* A free slot for the request, waiting while every slot is busy. */
static int
AcquireSlot(dsm_handle handle)
{
	for (;;)
	{
		int			slot = -1;
		int			worker;

		SpinLockAcquire(&shared->mutex);
		for (int i = 0; i < GPU_SLOTS && slot < 0; i++)
			if (shared->slots[i].state == SLOT_FREE)
			{
				slot = i;
				shared->slots[i].state = SLOT_PENDING;
				shared->slots[i].seq = shared->next_seq++;
				shared->slots[i].backend_procno = GvMyProcNumber();
				shared->slots[i].handle = handle;
			}
		worker = shared->worker_procno;
		SpinLockRelease(&shared->mutex);
		if (slot >= 0)
		{
			WakeProc(worker);
			return slot;
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 10, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/* Wait until the slot is answered (or failed); its state then. */
static SlotState
AwaitSlot(int slot)
{
	for (;;)
	{
		SlotState	state;

		SpinLockAcquire(&shared->mutex);
		state = shared->slots[slot].state;
		SpinLockRelease(&shared->mutex);
		if (state == SLOT_DONE || state == SLOT_FAILED)
			return state;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 1000, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * Send the request in the segment (req is its start) and wait for the
 * answer.  Interrupts are served while waiting; an error (a cancel) leaves
 * the slot to the worker if it has taken it.
 */
void
GpuServiceCall(GpuRequest *req, dsm_handle handle)
{
	volatile int slot;
	SlotState	state;

	req->delay_ms = gv_gpu_test_delay_ms;
	slot = AcquireSlot(handle);
	PG_TRY();
	{
		state = AwaitSlot(slot);
	}
	PG_CATCH();
	{
		ReleaseSlot(slot);
		PG_RE_THROW();
	}
	PG_END_TRY();
	ReleaseSlot(slot);
	if (state == SLOT_FAILED)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the gigavector GPU worker restarted while answering this request"),
				 errhint("Run the statement again.")));
}

int
GpuServiceDevices(GvGpuDeviceInfo *out, int max)
{
	int			n = 0;

	if (shared == NULL)
		return 0;
	SpinLockAcquire(&shared->mutex);
	if (shared->worker_procno >= 0)
	{
		n = Min(max, shared->ndevices);
		memcpy(out, shared->devices, sizeof(GvGpuDeviceInfo) * n);
	}
	SpinLockRelease(&shared->mutex);
	return n;
}

const char *
GpuServiceBackend(void)
{
	bool		cuda = false;

	if (shared != NULL)
	{
		SpinLockAcquire(&shared->mutex);
		cuda = shared->cuda;
		SpinLockRelease(&shared->mutex);
	}
	return cuda ? "cuda" : "cpu";
}

int
GpuServiceStatus(GpuCollectionStatus *out, int max)
{
	int			n;

	SpinLockAcquire(&shared->mutex);
	n = Min(max, shared->ncollections);
	memcpy(out, shared->collections, sizeof(GpuCollectionStatus) * n);
	SpinLockRelease(&shared->mutex);
	return n;
}

/* ---------------------------------------------------------------------------
 * The worker
 * ---------------------------------------------------------------------------
 */

/* CUDA per gigavector.gpu, its devices into shared memory; NULL: the CPU. */
static const GvCudaApi *
StartBackend(void)
{
	const GvCudaApi *cuda = NULL;
	char		reason[256] = "gigavector.gpu = off";
	char		dir[MAXPGPATH];
	int			ndevices = 0;
	GvGpuDeviceInfo devices[GPU_MAX_DEVICES];

	if (gv_gpu_mode != GPU_MODE_OFF)
	{
		get_pkglib_path(my_exec_path, dir);
		cuda = gv_gpu_load_cuda(dir, reason, sizeof(reason));
		if (cuda != NULL)
		{
			ndevices = Min(cuda->device_count(), GPU_MAX_DEVICES);
			for (int i = 0; i < ndevices; i++)
				if (cuda->device_info(i, &devices[i], reason, sizeof(reason)) != 0)
					ndevices = i;
			if (ndevices == 0)
			{
				if (reason[0] == '\0' || strncmp(reason, "gigavector", 10) == 0)
					strlcpy(reason, "no CUDA device found", sizeof(reason));
				cuda = NULL;
			}
		}
	}
	if (cuda == NULL)
		ereport(gv_gpu_mode == GPU_MODE_ON ? WARNING : LOG,
				(errmsg("gigavector gpu worker uses the CPU backend: %s", reason)));
	else
		ereport(LOG, (errmsg("gigavector gpu worker uses CUDA device 0: %s", devices[0].name)));

	SpinLockAcquire(&shared->mutex);
	shared->cuda = cuda != NULL;
	strlcpy(shared->reason, reason, sizeof(shared->reason));
	shared->ndevices = ndevices;
	memcpy(shared->devices, devices, sizeof(GvGpuDeviceInfo) * ndevices);
	SpinLockRelease(&shared->mutex);
	return cuda;
}

/* Take the oldest pending request; -1 if none. */
static int
TakeRequest(dsm_handle *handle)
{
	int			best = -1;

	SpinLockAcquire(&shared->mutex);
	for (int i = 0; i < GPU_SLOTS; i++)
		if (shared->slots[i].state == SLOT_PENDING &&
			(best < 0 || shared->slots[i].seq < shared->slots[best].seq))
			best = i;
	if (best >= 0)
	{
		shared->slots[best].state = SLOT_RUNNING;
		*handle = shared->slots[best].handle;
	}
	SpinLockRelease(&shared->mutex);
	return best;
}

static void
FinishRequest(int slot)
{
	int			backend = -1;

	SpinLockAcquire(&shared->mutex);
	if (shared->slots[slot].state == SLOT_ABANDONED)
		shared->slots[slot].state = SLOT_FREE;
	else
	{
		shared->slots[slot].state = SLOT_DONE;
		backend = shared->slots[slot].backend_procno;
	}
	SpinLockRelease(&shared->mutex);
	WakeProc(backend);
}

/* The test delay: wait, but wake for SIGTERM and postmaster death. */
static void
TestDelay(int ms)
{
	TimestampTz end = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), ms);

	while (!GvWorkerStopRequested())
	{
		long		left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), end);

		if (left <= 0)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 left, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* Answer one request; errors the store throws come back as replies. */
static void
Serve(GpuStore *store, GpuRequest *req, bool cuda_required, MemoryContext cxt)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);

	if (req->delay_ms > 0)
		TestDelay(req->delay_ms);
	if (cuda_required && !shared->cuda && req->op != GPU_OP_UNLOAD)
	{
		req->status = GPU_ERROR;
		req->sqlstate = ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE;
		snprintf(req->message, sizeof(req->message),
				 "gigavector.gpu = on, but the GPU worker has no CUDA device: %s", shared->reason);
	}
	else
	{
		PG_TRY();
		{
			GpuStoreServe(store, req, (uint64) gv_gpu_memory_limit_mb << 20);
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			MemoryContextSwitchTo(cxt);
			edata = CopyErrorData();
			FlushErrorState();
			req->status = GPU_ERROR;
			req->sqlstate = edata->sqlerrcode;
			strlcpy(req->message, edata->message, sizeof(req->message));
		}
		PG_END_TRY();
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(cxt);
}

static void
PublishStatus(GpuStore *store)
{
	GpuCollectionStatus status[GPU_MAX_COLLECTIONS];
	int			n = GpuStoreStatus(store, status, GPU_MAX_COLLECTIONS);

	SpinLockAcquire(&shared->mutex);
	memcpy(shared->collections, status, sizeof(GpuCollectionStatus) * n);
	shared->ncollections = n;
	SpinLockRelease(&shared->mutex);
}

/* On any exit: no worker is ready any more. */
static void
ClearWorker(int code pg_attribute_unused(), Datum arg pg_attribute_unused())
{
	SpinLockAcquire(&shared->mutex);
	if (shared->worker_procno == GvMyProcNumber())
		shared->worker_procno = -1;
	SpinLockRelease(&shared->mutex);
}

/*
 * The worker: start the backend (CUDA or CPU), take over the ring, answer
 * requests oldest first until SIGTERM.
 */
void
gv_gpu_worker_main(Datum arg pg_attribute_unused())
{
	const GvCudaApi *cuda;
	GpuStore   *store;
	MemoryContext reqcxt;
	int			mode;

	GvWorkerSetUpSignals();
	if (shared == NULL)
		elog(FATAL, "gigavector gpu worker started without its shared memory");
	before_shmem_exit(ClearWorker, (Datum) 0);
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	mode = gv_gpu_mode;
	cuda = StartBackend();
	store = GpuStoreCreate(TopMemoryContext, cuda, 0);
	reqcxt = AllocSetContextCreate(TopMemoryContext, "gigavector gpu request",
								   ALLOCSET_DEFAULT_SIZES);

	/* What a predecessor was answering is lost; what was pending is not. */
	SpinLockAcquire(&shared->mutex);
	for (int i = 0; i < GPU_SLOTS; i++)
		if (shared->slots[i].state == SLOT_RUNNING)
		{
			shared->slots[i].state = SLOT_FAILED;
			WakeProc(shared->slots[i].backend_procno);
		}
		else if (shared->slots[i].state == SLOT_ABANDONED)
			shared->slots[i].state = SLOT_FREE;
	shared->ncollections = 0;
	shared->generation++;
	shared->worker_procno = GvMyProcNumber();
	SpinLockRelease(&shared->mutex);
	ereport(LOG, (errmsg("gigavector gpu worker ready")));

	while (!GvWorkerStopRequested())
	{
		dsm_handle	handle;
		int			slot = TakeRequest(&handle);

		if (slot < 0)
		{
			pgstat_report_activity(STATE_IDLE, NULL);
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_EXIT_ON_PM_DEATH, -1L, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
			GvWorkerReloadIfAsked();
			/* a new gigavector.gpu takes a new process (a new backend) */
			if (gv_gpu_mode != mode)
			{
				ereport(LOG, (errmsg("gigavector gpu worker restarting for the new gigavector.gpu")));
				proc_exit(1);
			}
			continue;
		}
		{
			/* no resource owner: the mapping is ours until dsm_detach */
			dsm_segment *seg = dsm_attach(handle);

			if (seg != NULL)
			{
				GpuRequest *req = dsm_segment_address(seg);

				pgstat_report_activity(STATE_RUNNING,
									   req->op == GPU_OP_SEARCH ? "gigavector gpu: search" :
									   req->op == GPU_OP_LOAD ? "gigavector gpu: load" :
									   "gigavector gpu: unload");
				Serve(store, req, mode == GPU_MODE_ON, reqcxt);
				PublishStatus(store);
				dsm_detach(seg);
			}
		}
		FinishRequest(slot);
	}

	ereport(LOG, (errmsg("gigavector gpu worker shutting down")));
	proc_exit(1);
}
