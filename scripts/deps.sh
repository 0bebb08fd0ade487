#!/usr/bin/env bash
# scripts/deps.sh: install the Debian packages that inngest_pg needs to build,
# test and run the demo.  Idempotent: quiet when everything is present,
# "apt-get update" only when something must be installed.
#
# Run it (bash scripts/deps.sh) or source it; sourcing defines and calls
# inngest_deps, defines inngest_pg_config, and leaves the caller's shell
# options alone.

inngest_deps() {
	# clang and libclang-rt-14-dev (libFuzzer and the sanitizer runtimes
	# of clang 14) build the fuzzers, test/cron/cron_fuzz.c and
	# test/expr/expr_fuzz.c; valgrind runs scripts/valgrind.sh
	local pkgs="postgresql-15 postgresql-server-dev-15 postgresql-client-15
	            libpq-dev libipc-run-perl gcc make clang libclang-rt-14-dev
	            valgrind"
	local missing=() p

	for p in $pkgs; do
		# "install ok installed" only: a removed package keeps its config
		# files and still answers dpkg -s
		if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q 'install ok installed'; then
			missing+=("$p")
		fi
	done
	[ ${#missing[@]} -eq 0 ] && return 0

	local sudo=()
	if [ "$(id -u)" -ne 0 ]; then
		if ! command -v sudo >/dev/null 2>&1; then
			echo "deps.sh: missing packages (${missing[*]}), and not root and no sudo" >&2
			return 1
		fi
		sudo=(sudo)
	fi

	echo "deps.sh: installing ${missing[*]}" >&2
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null ||
		return 1
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null ||
		return 1
	echo "deps.sh: done" >&2
}

# The pg_config to build with: PostgreSQL 15's, where Debian puts it.
inngest_pg_config() {
	if [ -x /usr/lib/postgresql/15/bin/pg_config ]; then
		echo /usr/lib/postgresql/15/bin/pg_config
	else
		echo pg_config
	fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -euo pipefail
	inngest_deps
else
	inngest_deps
fi
