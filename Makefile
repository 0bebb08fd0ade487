# inngest_pg: PGXS build
EXTENSION  = inngest_pg
MODULE_big = inngest_pg
OBJS = \
	src/api.o \
	src/catalog.o \
	src/config.o \
	src/cron.o \
	src/cron_sql.o \
	src/drive.o \
	src/events.o \
	src/expr.o \
	src/flow.o \
	src/guc.o \
	src/inngest_pg.o \
	src/jsonutil.o \
	src/lifecycle.o \
	src/memo.o \
	src/replay.o \
	src/roles.o \
	src/restore.o \
	src/runs.o \
	src/schedules.o \
	src/security.o \
	src/slots.o \
	src/spiutil.o \
	src/stepexec.o \
	src/steps.o \
	src/waits.o \
	src/wake.o \
	src/worker.o
DATA = $(wildcard sql/inngest_pg--*.sql)
PGFILEDESC = "inngest_pg - durable functions inside PostgreSQL"

# pg_regress: inputs in test/sql, expected output in test/expected
TESTS        = $(sort $(wildcard test/sql/*.sql))
REGRESS      = $(patsubst test/sql/%.sql,%,$(TESTS))
REGRESS_OPTS = --inputdir=test --temp-instance=./tmp_check \
               --temp-config=test/regress.conf

# isolation specs (races): test/specs/*.spec, expected in test/expected
ISOLATION      = $(patsubst test/specs/%.spec,%,$(sort $(wildcard test/specs/*.spec)))
ISOLATION_OPTS = --inputdir=test --temp-instance=./tmp_check_iso \
                 --temp-config=test/regress.conf

# TAP tests (real background workers), run by "make installcheck" too
TAP_TESTS    = 1
PROVE_TESTS  = test/t/*.pl

PG_CONFIG ?= pg_config

# the standalone test programs of the cron core and the expression
# compiler (see the end of this file)
EXTRA_CLEAN = test/cron/cron_diff test/cron/cron_fuzz test/expr/expr_fuzz

# Warnings are errors; PostgreSQL's own headers trip these two.
PG_CFLAGS = -Wall -Wextra -Werror -Wno-unused-parameter \
            -Wno-missing-field-initializers -Wno-sign-compare
ifdef ASSERTS
PG_CPPFLAGS += -DUSE_ASSERT_CHECKING
endif

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

$(OBJS): $(wildcard src/*.h)

# The libpq benchmark driver (see bench/README section of README.md)
bench/bench_runs: bench/bench_runs.c bench/bench_util.h
	$(CC) -O2 -Wall -Wextra -Werror -I$(shell $(PG_CONFIG) --includedir) \
		-o $@ $< -L$(shell $(PG_CONFIG) --libdir) -lpq

bench: bench/bench_runs bench/bench_waits bench/bench_flow
.PHONY: bench

# The libpq benchmark of waits and sleeps (scripts/bench_waits.sh)
bench/bench_waits: bench/bench_waits.c bench/bench_util.h
	$(CC) -O2 -Wall -Wextra -Werror -I$(shell $(PG_CONFIG) --includedir) \
		-o $@ $< -L$(shell $(PG_CONFIG) --libdir) -lpq

# The libpq benchmark of concurrency keys (scripts/bench_flow.sh)
bench/bench_flow: bench/bench_flow.c bench/bench_util.h
	$(CC) -O2 -Wall -Wextra -Werror -I$(shell $(PG_CONFIG) --includedir) \
		-o $@ $< -L$(shell $(PG_CONFIG) --libdir) -lpq

# The cron core (src/cron.c) on its own, without PostgreSQL: a differential
# test against a brute-force evaluation, and a libFuzzer target (clang, with
# AddressSanitizer and UndefinedBehaviorSanitizer).  Both print one result
# line; scripts/test.sh counts them.
CRON_CORE_FLAGS = -DCRON_STANDALONE -Isrc -Wall -Wextra -Werror
CLANG ?= clang
CRON_FUZZ_TIME ?= 30

test/cron/cron_diff: test/cron/cron_diff.c src/cron.c src/cron.h
	$(CC) -std=c99 -O2 -g $(CRON_CORE_FLAGS) -o $@ test/cron/cron_diff.c src/cron.c

test/cron/cron_fuzz: test/cron/cron_fuzz.c src/cron.c src/cron.h
	$(CLANG) -g -O1 -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined $(CRON_CORE_FLAGS) \
		-o $@ test/cron/cron_fuzz.c src/cron.c

cron-diff: test/cron/cron_diff
	test/cron/cron_diff

cron-fuzz: test/cron/cron_fuzz
	test/run_fuzz.sh test/cron/cron_fuzz $(CRON_FUZZ_TIME) -max_len=1100

.PHONY: cron-diff cron-fuzz

# The expression compiler (src/expr.c, unchanged) on its own: a libFuzzer
# target built with PostgreSQL's headers against stand-ins of the backend
# functions it calls (test/expr/pg_shim.c), with AddressSanitizer and
# UndefinedBehaviorSanitizer, and PostgreSQL's assertions.  Inputs go a
# little past the 8192-byte limit of an expression.  Prints one result
# line; scripts/test.sh counts it.
EXPR_FUZZ_FLAGS = -DUSE_ASSERT_CHECKING -Isrc -Itest/expr -I$(includedir_server) \
                  -Wall -Wextra -Werror -Wno-unused-parameter \
                  -Wno-missing-field-initializers -Wno-sign-compare \
                  -Wno-ignored-attributes
EXPR_FUZZ_TIME ?= 30

test/expr/expr_fuzz: test/expr/expr_fuzz.c test/expr/pg_shim.c \
                     test/expr/pg_shim.h src/expr.c src/expr.h src/inngest.h
	$(CLANG) -g -O1 -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=undefined $(EXPR_FUZZ_FLAGS) -o $@ \
		test/expr/expr_fuzz.c test/expr/pg_shim.c src/expr.c -lpthread

expr-fuzz: test/expr/expr_fuzz
	test/run_fuzz.sh test/expr/expr_fuzz $(EXPR_FUZZ_TIME) -max_len=9000 \
		-dict=test/expr/expr.dict

.PHONY: expr-fuzz
