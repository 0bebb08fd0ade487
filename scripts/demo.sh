#!/usr/bin/env bash
# scripts/demo.sh: the inngest_pg demo.
#
# Builds and installs the extension, starts a throwaway PostgreSQL 15
# cluster (unix socket only, in a temporary directory) with inngest_pg's
# background workers, runs examples/order.sql, and follows the order's run
# while a flaky step is retried.  The cluster and its directory are removed
# on exit, whatever happens.
#
# Environment: PG_CONFIG (default: PostgreSQL 15's), DEMO_TIMEOUT (seconds
# to wait for the run, default 180).

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

TIMEOUT=${DEMO_TIMEOUT:-180}
DEMO_DIR=""
STARTED=0
RUN_AS=()
if [ "$(id -u)" -eq 0 ]; then
	RUN_AS=(runuser -u postgres --)
fi

say() { printf '\n\033[1m%s\033[0m\n' "$*"; }
[ -t 1 ] || say() { printf '\n%s\n' "$*"; }

cleanup() {
	local rc=$?
	set +e
	if [ $rc -ne 0 ] && [ $rc -ne 130 ] && [ -f "$DEMO_DIR/server.log" ]; then
		echo
		echo "The demo failed; the last lines of the server log:"
		tail -n 40 "$DEMO_DIR/server.log"
	fi
	if [ "$STARTED" -eq 1 ]; then
		echo
		echo "Stopping the demo cluster."
		"${RUN_AS[@]}" "$PG_BINDIR/pg_ctl" -D "$DEMO_DIR/data" -m fast -w \
			stop >/dev/null 2>&1 ||
			"${RUN_AS[@]}" "$PG_BINDIR/pg_ctl" -D "$DEMO_DIR/data" \
				-m immediate -w stop >/dev/null 2>&1
	fi
	[ -n "$DEMO_DIR" ] && rm -rf "$DEMO_DIR"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------
say "== 1. Dependencies, build and install"
source "$ROOT/scripts/deps.sh"
PG_CONFIG=${PG_CONFIG:-$(inngest_pg_config)}
PG_BINDIR=$("$PG_CONFIG" --bindir)
# "make install" writes into PostgreSQL's directories: use sudo when not
# root and they are not writable
SUDO=()
if [ "$(id -u)" -ne 0 ] &&
	! { [ -w "$("$PG_CONFIG" --pkglibdir)" ] &&
		[ -w "$("$PG_CONFIG" --sharedir)/extension" ]; }; then
	SUDO=(sudo)
fi
make -s PG_CONFIG="$PG_CONFIG"
"${SUDO[@]}" make -s install PG_CONFIG="$PG_CONFIG" >/dev/null
echo "inngest_pg built and installed into $("$PG_CONFIG" --pkglibdir)."

# ---------------------------------------------------------------------------
say "== 2. A throwaway cluster with the inngest_pg workers"
DEMO_DIR=$(mktemp -d /tmp/inngest_pg_demo.XXXXXX)
chmod 700 "$DEMO_DIR"
[ "$(id -u)" -eq 0 ] && chown postgres:postgres "$DEMO_DIR"

# A port nobody uses, neither on TCP nor as a socket in the usual places.
port_in_use() {
	local hex
	hex=$(printf ':%04X ' "$1")
	grep -q "$hex" /proc/net/tcp /proc/net/tcp6 2>/dev/null ||
		[ -e "/tmp/.s.PGSQL.$1" ] || [ -e "/var/run/postgresql/.s.PGSQL.$1" ]
}
PORT=$((20000 + RANDOM % 20000))
while port_in_use "$PORT"; do PORT=$((PORT + 1)); done

"${RUN_AS[@]}" "$PG_BINDIR/initdb" -D "$DEMO_DIR/data" -U postgres \
	--auth=trust --no-sync >"$DEMO_DIR/initdb.log" 2>&1 || {
	cat "$DEMO_DIR/initdb.log"
	exit 1
}
cat >>"$DEMO_DIR/data/postgresql.conf" <<EOF

# inngest_pg demo
listen_addresses = ''
unix_socket_directories = '$DEMO_DIR'
port = $PORT
shared_preload_libraries = 'inngest_pg'
inngest.database = 'postgres'
inngest.workers = 2
fsync = off
EOF
STARTED=1 # from here on, the exit trap stops the server
"${RUN_AS[@]}" "$PG_BINDIR/pg_ctl" -D "$DEMO_DIR/data" -l "$DEMO_DIR/server.log" \
	-w -t 60 start >/dev/null
echo "PostgreSQL is up in $DEMO_DIR (socket only, port $PORT) with"
echo "shared_preload_libraries = 'inngest_pg' and 2 executor workers."

PSQL=("$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$DEMO_DIR" -p "$PORT"
	-U postgres -d postgres)
psql_val() { "${PSQL[@]}" -At -c "$1"; }
psql_show() { "${PSQL[@]}" -P pager=off -c "$1"; }

# ---------------------------------------------------------------------------
say "== 3. The story: examples/order.sql"
cat <<'EOF'
It creates the shop schema, a PL/pgSQL handler shop.process_order with
three steps (charge-card, reserve-inventory, notify-warehouse), registers it
with inngest.create_function for the event "order.placed", and inserts one
order.placed event. The warehouse step fails on its first two calls.
EOF
"${PSQL[@]}" -c 'SET client_min_messages = warning' \
	-f "$ROOT/examples/order.sql" >/dev/null
echo
echo "The event is stored in inngest.events; its insert trigger created a run,"
echo "and the background workers were woken at commit to drive it:"
psql_show "SELECT seq, name, data FROM inngest.events ORDER BY seq"

# ---------------------------------------------------------------------------
say "== 4. Following the run (retries back off 15s, then 30s)"
PROGRESS_SQL="
SELECT string_agg(format('run %s: %s%s%s', r.id, r.status,
         CASE WHEN s.step_id IS NOT NULL
              THEN format(', step %s attempt %s (%s)', s.step_id, s.attempts,
                          s.status) ELSE '' END,
         CASE WHEN r.wake_at > now() AND r.status NOT IN ('running')
              THEN format(', next try in %ss',
                          ceil(extract(epoch FROM r.wake_at - now()))::int)
              ELSE '' END), '; ' ORDER BY r.id)
  FROM inngest.runs r
  LEFT JOIN LATERAL (SELECT step_id, attempts, status FROM inngest.steps
                      WHERE run_id = r.id
                      ORDER BY position DESC LIMIT 1) s ON true"
# unfinished: anything not in a final state (queued, running, sleeping
# while backing off, ...)
PENDING_SQL="SELECT count(*) FROM inngest.runs
  WHERE status NOT IN ('completed', 'failed', 'cancelled', 'skipped')"

start=$(date +%s)
last=""
last_print=0
while :; do
	now=$(date +%s)
	elapsed=$((now - start))
	state=$(psql_val "$PROGRESS_SQL")
	pending=$(psql_val "$PENDING_SQL")
	# print on change, and every 10s while waiting for a backoff to end
	shown=$(echo "$state" | sed -E 's/, next try in [0-9]+s//g')
	if [ "$shown" != "$last" ] || [ $((now - last_print)) -ge 10 ]; then
		printf '[%3ss] %s\n' "$elapsed" "${state:-no runs yet}"
		last=$shown
		last_print=$now
	fi
	if [ -n "$state" ] && [ "$pending" -eq 0 ]; then
		break
	fi
	if [ "$elapsed" -ge "$TIMEOUT" ]; then
		echo "Timed out after ${TIMEOUT}s with $pending unfinished run(s)."
		exit 1
	fi
	sleep 1
done
echo "Finished after ${elapsed}s."

# ---------------------------------------------------------------------------
say "== 5. The run"
echo "One run of process-order; its output is the handler's return value."
psql_show "SELECT id, function_id, status, output, error FROM inngest.runs ORDER BY id"

say "== 6. Its steps (the memo)"
echo "Each step ran to completion once; notify-warehouse needed 3 attempts"
echo "(its error column keeps the last failed attempt's message)."
psql_show "SELECT run_id, step_id, status, attempts, output,
       error->>'message' AS last_error
  FROM inngest.steps ORDER BY run_id, position"

say "== 7. The effects"
echo "The card was charged exactly once, although the handler was replayed"
echo "after every step and the warehouse step failed twice:"
psql_show "SELECT id, order_id, amount, charged_at FROM shop.payments ORDER BY id"
psql_show "SELECT order_id, count(*) AS charges FROM shop.payments GROUP BY order_id"
echo "Inventory reserved once, warehouse notified once (on call 3):"
psql_show "SELECT sku, in_stock, reserved FROM shop.inventory ORDER BY sku"
psql_show "SELECT order_id, attempt AS warehouse_call FROM shop.warehouse_notifications"
psql_show "SELECT last_value AS warehouse_calls FROM shop.flaky_calls"

failed=$(psql_val "SELECT count(*) FROM inngest.runs WHERE status <> 'completed'")
charges=$(psql_val "SELECT count(*) FROM shop.payments")
if [ "$failed" -ne 0 ] || [ "$charges" -ne 1 ]; then
	say "Unexpected: $failed run(s) not completed, $charges payment(s)."
	exit 1
fi
say "Done: the order completed, the card was charged once."
