# Sourced by scripts/bench_cluster.sh and scripts/bench_compare.sh: the
# throwaway cluster both benchmark against.  The caller defines as_pg (run a
# command as the cluster's owner), PGUSER_NAME, WORKERS and RUNS_PER_TXN.

# A free TCP port number (the cluster listens only on its own Unix socket,
# but the port also names the socket and the shared memory key).
bench_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
		echo $((20000 + RANDOM % 30000))
}

# bench_initdb BINDIR DATA SOCKDIR PORT LABEL: create the data directory,
# listening only on a socket in SOCKDIR, the extension preloaded with
# WORKERS workers committing RUNS_PER_TXN runs at a time, and PostgreSQL's
# default durability (fsync and synchronous_commit on).  LABEL says in
# postgresql.conf which script wrote it.
bench_initdb() {
	local bindir=$1 data=$2 sock=$3 port=$4 label=$5
	echo
	echo "== cluster: $data, port $port, inngest.workers=$WORKERS, inngest.runs_per_transaction=$RUNS_PER_TXN =="
	as_pg "$bindir/initdb" -D "$data" -U "$PGUSER_NAME" -A trust -E UTF8 \
		--no-instructions >"$sock/initdb.log" 2>&1 || { cat "$sock/initdb.log"; exit 1; }
	cat >>"$data/postgresql.conf" <<CONF

# $label
listen_addresses = ''
unix_socket_directories = '$sock'
port = $port
shared_preload_libraries = 'inngest_pg'
inngest.workers = $WORKERS
inngest.runs_per_transaction = $RUNS_PER_TXN
fsync = on
synchronous_commit = on
CONF
}
