# test/lib.sh — shell helpers shared by test/setup, test/run and test/demo.
# Source it; it defines functions and a few variables, and runs nothing.

PG_BINDIR=$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)
PGXS_DIR=$(dirname "$(dirname "$(pg_config --pgxs 2>/dev/null || echo /usr/lib/postgresql/15/lib/pgxs/src/makefiles/x)")")
PY=/usr/bin/python3

gv_log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Run a command as root: directly when we are root, through sudo otherwise.
gv_as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# A TCP port nobody listens on (the socket is private, but the port number
# still names the socket file and must not collide with a running server).
gv_free_port() {
	local port
	for port in $(seq 55432 55532); do
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null &&
			[ ! -e "/tmp/.s.PGSQL.$port" ]; then
			echo "$port"
			return 0
		fi
	done
	return 1
}

# gv_cluster_start DIR: initdb into DIR/data and start a server listening
# only on a Unix socket in DIR.  Sets PGHOST, PGPORT, PGUSER, PGDATABASE.
# Must run as a non-root user (initdb refuses root).
gv_cluster_start() {
	local dir=$1
	shift
	PGPORT=$(gv_free_port)
	"$PG_BINDIR/initdb" -D "$dir/data" -A trust -U postgres --no-sync >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log" >&2; return 1; }
	cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$dir'
port = $PGPORT
fsync = off
shared_buffers = 512MB
maintenance_work_mem = 1GB
max_parallel_workers_per_gather = 2
CONF
	"$PG_BINDIR/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start "$@" >/dev/null ||
		{ cat "$dir/server.log" >&2; return 1; }
	export PGHOST=$dir PGPORT PGUSER=postgres PGDATABASE=postgres
}

# gv_cluster_stop DIR
gv_cluster_stop() {
	"$PG_BINDIR/pg_ctl" -D "$1/data" -m immediate -w stop >/dev/null 2>&1 || true
}

# gv_copy_tree_for USER DEST: copy the source tree (no .git, no build
# products) to DEST, owned by USER, so that an unprivileged user can build
# and run tests there wherever the checkout lives (e.g. under /root).
gv_copy_tree_for() {
	local user=$1 dest=$2
	mkdir -p "$dest"
	tar -C "$GV_TOP" --exclude=.git --exclude='*.o' --exclude='*.so' \
		--exclude=results --exclude=__pycache__ --exclude=tmp_check -cf - . |
		tar -C "$dest" -xf -
	chown -R "$user" "$dest"
}

# gv_private_cluster_start DIR: gv_cluster_start, run as the unprivileged
# "postgres" user when we are root (the data directory is theirs; clients
# may still be root).  Sets the same PG* variables.
gv_private_cluster_start() {
	local dir=$1
	if [ "$(id -u)" != 0 ]; then
		gv_cluster_start "$dir"
		return
	fi
	chown postgres "$dir"
	runuser -u postgres -- bash -c "$(declare -f gv_cluster_start gv_free_port)
		PG_BINDIR='$PG_BINDIR'; gv_cluster_start '$dir' && echo \$PGPORT >'$dir/port'" || return 1
	export PGHOST=$dir PGPORT=$(cat "$dir/port") PGUSER=postgres PGDATABASE=postgres
}

# gv_private_cluster_stop DIR
gv_private_cluster_stop() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$1/data" -m fast -w stop >/dev/null 2>&1 || true
	else
		"$PG_BINDIR/pg_ctl" -D "$1/data" -m fast -w stop >/dev/null 2>&1 || true
	fi
}
