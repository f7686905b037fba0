#!/usr/bin/env bash
# test/gpu/device_check.sh — the GPU search service on a real CUDA device, in
# one go (for a session that is lent a GPU; everything else runs in CI on the
# CPU backend).  Run from the repository root as root on the device machine:
#
#   bash test/gpu/device_check.sh            # correctness + figures
#   GV_N=200000 bash test/gpu/device_check.sh   # a smaller throughput set
#
# It builds and installs gigavector with the CUDA library (test/setup), starts
# a throwaway preloaded cluster, and prints:
#   1. nvidia-smi, gpu_device_info(0), gpu_status backend (must say cuda);
#   2. correctness on CUDA: every distance, k = 1, 10, 100, 1024, N = 1, 1000,
#      5000 (+ duplicates), batch 1 and 200, against the exact SQL scan
#      (ids equal where distances differ by more than 1e-4, distances within
#      1e-4 relative);
#   3. throughput: 1,000 queries x GV_N (default 1,000,000) x 768, k = 10, fp32
#      and fp16, through gpu_search_batch, against the CPU backend on a tenth
#      of the rows (scaled), and the roofline bound: bytes read per batch /
#      memory bandwidth and 2 * N * 768 * 1000 FLOP / fp32 peak;
#   4. single-query latency through SQL (median of 50).
# Every figure goes to $OUT/device_check.txt when $OUT is set.
set -euo pipefail
N=${GV_N:-1000000}
DIM=768
cd "$(dirname "$0")/../.."
out=${OUT:-/tmp}/device_check.txt
exec > >(tee "$out") 2>&1
nvidia-smi || true
GV_MAKEFLAGS="WERROR=yes" bash test/setup >/dev/null
. test/lib.sh
dir=$(mktemp -d); chmod 755 "$dir"; chown postgres "$dir"
runuser -u postgres -- "$PG_BINDIR/initdb" -D "$dir/data" >/dev/null
cat >> "$dir/data/postgresql.conf" <<CONF
shared_preload_libraries = 'gigavector'
listen_addresses = ''
unix_socket_directories = '$dir'
port = 55432
shared_buffers = 4GB
max_parallel_workers_per_gather = 0
CONF
runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$dir/data" -l "$dir/log" -w start >/dev/null
trap 'runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$dir/data" -m fast stop >/dev/null; grep gpu "$dir/log" | tail -5' EXIT
sleep 2
q() { runuser -u postgres -- "$PG_BINDIR/psql" -h "$dir" -p 55432 -d postgres -XAtq -v ON_ERROR_STOP=1 "$@"; }
q -c 'CREATE EXTENSION gigavector'
echo "== device"; q -c 'SELECT gigavector.gpu_device_count(), (gigavector.gpu_device_info(0)).*'

echo "== correctness on CUDA"
for n in 1 1000 5000; do
	q -c "DROP TABLE IF EXISTS c$n; CREATE TABLE c$n (id bigint PRIMARY KEY, v gvector(32));
		INSERT INTO c$n SELECT i, (SELECT array_agg(sin(i * 1000 + j)::real ORDER BY j) FROM generate_series(1, 32) j)::gvector
			FROM generate_series(1, $n) i;
		INSERT INTO c$n SELECT id + 1000000, v FROM c$n WHERE id <= 10;
		CREATE TABLE IF NOT EXISTS cq AS SELECT i AS q, (SELECT array_agg(cos(i * 77 + j)::real ORDER BY j)
			FROM generate_series(1, 32) j)::gvector AS v FROM generate_series(1, 200) i;
		SELECT gigavector.gpu_load('c$n', 'v');" >/dev/null
	for d in l2 cosine ip; do
		op=$(case $d in l2) echo '<->';; cosine) echo '<=>';; ip) echo '<#>';; esac)
		for k in 1 10 100 1024; do
			bad=$(q -c "SELECT count(*) FROM cq,
				LATERAL (SELECT array_agg(id ORDER BY distance, id) gi, array_agg(distance ORDER BY distance, id) gd
						 FROM gigavector.gpu_search('c$n', 'v', cq.v, $k, '$d')) g,
				LATERAL (SELECT array_agg(id ORDER BY dd, id) ei, array_agg(dd ORDER BY dd, id) ed FROM
						 (SELECT id, c.v $op cq.v dd FROM c$n c ORDER BY c.v $op cq.v, id LIMIT $k) s) e
				WHERE cardinality(gi) <> cardinality(ei) OR EXISTS (SELECT 1 FROM generate_subscripts(gi, 1) i
					WHERE abs(gd[i] - ed[i]) > 1e-4 * greatest(1, abs(ed[i]))
					   OR (gi[i] <> ei[i] AND abs(ed[i] - coalesce(ed[i + 1], ed[i])) > 1e-4
					       AND abs(ed[i] - coalesce(ed[i - 1], ed[i])) > 1e-4))")
			batch=$(q -c "SELECT count(*) FROM (SELECT * FROM gigavector.gpu_search_batch('c$n', 'v',
					(SELECT array_agg(v ORDER BY q) FROM cq), $k, '$d')
				EXCEPT SELECT dense_rank() OVER (ORDER BY cq.q)::int, g.* FROM cq,
					LATERAL gigavector.gpu_search('c$n', 'v', cq.v, $k, '$d') g) x")
			echo "N=$n $d k=$k: queries differing from the exact scan: $bad / 200; batch rows differing from singles: $batch"
		done
	done
done
q -c "SELECT tbl, vectors, backend, process FROM gigavector.gpu_status"

echo "== throughput: 1000 queries x $N x $DIM"
q -c "DROP TABLE IF EXISTS big; CREATE UNLOGGED TABLE big (id bigint PRIMARY KEY, v gvector($DIM));
	INSERT INTO big SELECT i, (SELECT array_agg(sin(i * 1000 + j)::real ORDER BY j) FROM generate_series(1, $DIM) j)::gvector
		FROM generate_series(1, $N) i;
	CREATE TABLE bq AS SELECT array_agg((SELECT array_agg(cos(i * 77 + j)::real ORDER BY j) FROM generate_series(1, $DIM) j)::gvector) AS qs
		FROM generate_series(1, 1000) i;"
# ms of one statement, by psql's \timing
ms() { printf '\\timing on\n%s\n' "$1" | q | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1; }
for fp16 in false true; do
	q -c "SELECT gigavector.gpu_load('big', 'v', $fp16)" >/dev/null
	ms "SELECT count(*) FROM gigavector.gpu_search_batch('big', 'v', (SELECT qs FROM bq), 10)" >/dev/null  # warm
	t=$(ms "SELECT count(*) FROM gigavector.gpu_search_batch('big', 'v', (SELECT qs FROM bq), 10)")
	echo "cuda fp16=$fp16: 1000 queries in $t ms = $(awk -v t="$t" 'BEGIN{printf "%.0f", 1e6/t}') queries/s"
done
# the CPU backend on the same rows, 50 queries (scaled to 1000)
q -c "ALTER SYSTEM SET gigavector.gpu = off; SELECT pg_reload_conf()" >/dev/null
sleep 5
q -c "SELECT backend FROM gigavector.gpu_status" || true
q -c "SELECT gigavector.gpu_load('big', 'v')" >/dev/null
t=$(ms "SELECT count(*) FROM gigavector.gpu_search_batch('big', 'v', (SELECT qs[1:50] FROM bq), 10)")
echo "cpu backend: 50 queries in $t ms = $(awk -v t="$t" 'BEGIN{printf "%.1f", 5e4/t}') queries/s"
q -c "ALTER SYSTEM RESET gigavector.gpu; SELECT pg_reload_conf()" >/dev/null
sleep 5
q -c "SELECT gigavector.gpu_unload('big', 'v')" >/dev/null
echo "roofline (per 64-query pass the rows are read once): fp32 bytes = $((N * DIM * 4)) per 64 queries,"
echo "  FLOP = 2 * $N * $DIM per query; bound = max(bytes*1000/64 / bandwidth, FLOP*1000 / fp32 peak)"
echo "  H200 (4.8e12 B/s, 6.7e13 FLOP/s): $(awk -v n=$N -v d=$DIM 'BEGIN{b=n*d*4*1000/64/4.8e12; f=2*n*d*1000/6.7e13; printf "%.1f ms", 1000*(b>f?b:f)}') for 1000 queries"

echo "== single-query latency through SQL (median of 50)"
q -c "SELECT gigavector.gpu_load('c5000', 'v')" >/dev/null
for i in $(seq 50); do
	ms "SELECT count(*) FROM gigavector.gpu_search('c5000', 'v', (SELECT v FROM cq WHERE q = $i), 10)"
done | sort -n | sed -n 25p | sed 's/^/median ms: /'
