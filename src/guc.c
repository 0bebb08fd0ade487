/*-------------------------------------------------------------------------
 *
 * guc.c
 *	  Configuration parameters of inngest_pg, and the extension's clock.
 *
 * Every time decision the extension makes (sleeps, backoff, event
 * timestamps) reads inngest_clock(), so that inngest.fake_now moves them
 * all at once and regression tests can jump days ahead deterministically.
 *
 *-------------------------------------------------------------------------
 */
#include "inngest.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "guc.h"

/* GUC variables */
char	   *inngest_database = NULL;
int			inngest_workers = 2;
int			inngest_idle_timeout = 10000;
int			inngest_runs_per_transaction = 16;
int			inngest_max_event_size = 512;
int			inngest_max_step_output_size = 4096;
int			inngest_max_depth = 16;
static char *inngest_fake_now_string = NULL;

/* The parsed value of inngest.fake_now; 0 (unset) means the real clock */
static bool fake_now_set = false;
static TimestampTz fake_now_value = 0;

static bool check_fake_now(char **newval, void **extra, GucSource source);
static void assign_fake_now(const char *newval, void *extra);

/*
 * Parse inngest.fake_now.  The parse runs under PG_TRY because a check hook
 * must report a bad value through GUC_check_errdetail, not by throwing.
 */
static bool
check_fake_now(char **newval, void **extra, GucSource source)
{
	TimestampTz *parsed;
	TimestampTz value = 0;
	bool		ok = true;
	MemoryContext oldcxt = CurrentMemoryContext;

	if (*newval == NULL || (*newval)[0] == '\0')
		return true;

	PG_TRY();
	{
		value = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in,
														CStringGetDatum(*newval),
														ObjectIdGetDatum(InvalidOid),
														Int32GetDatum(-1)));
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(oldcxt);
		FlushErrorState();
		ok = false;
	}
	PG_END_TRY();

	if (!ok || TIMESTAMP_NOT_FINITE(value))
	{
		GUC_check_errdetail("\"%s\" is not a finite timestamp with time zone.",
							*newval);
		return false;
	}

	parsed = (TimestampTz *) malloc(sizeof(TimestampTz));
	if (parsed == NULL)
		return false;
	*parsed = value;
	*extra = parsed;
	return true;
}

static void
assign_fake_now(const char *newval, void *extra)
{
	if (extra == NULL)
	{
		fake_now_set = false;
		fake_now_value = 0;
	}
	else
	{
		fake_now_set = true;
		fake_now_value = *(TimestampTz *) extra;
	}
}

/* t + interval, as timestamptz + interval computes it */
TimestampTz
inngest_add_interval(TimestampTz t, Interval *interval)
{
	return DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
												   TimestampTzGetDatum(t),
												   IntervalPGetDatum(interval)));
}

/* An interval of usecs microseconds, as a Datum */
Datum
inngest_usecs_interval(int64 usecs)
{
	Interval   *iv = palloc0(sizeof(Interval));

	iv->time = usecs;
	return IntervalPGetDatum(iv);
}

/*
 * The extension's clock.  The real clock is read fresh on every call, not
 * frozen at transaction start, because workers make wake-up decisions in
 * long-lived loops.
 */
TimestampTz
inngest_clock(void)
{
	if (fake_now_set)
		return fake_now_value;
	return GetCurrentTimestamp();
}

/*
 * Define the GUCs (at module load, from _PG_init).  Those that shape shared
 * memory or the workers exist only when the library is preloaded.
 */
void
guc_define(void)
{
	/*
	 * What shapes shared memory and the workers can only be set at server
	 * start, so it exists only when we are preloaded.
	 */
	if (process_shared_preload_libraries_in_progress)
	{
		DefineCustomStringVariable("inngest.database",
								   "Database in which the inngest_pg background workers run.",
								   NULL,
								   &inngest_database,
								   "postgres",
								   PGC_POSTMASTER,
								   0,
								   NULL, NULL, NULL);

		DefineCustomIntVariable("inngest.workers",
								"Number of executor background workers.",
								"Zero disables background execution; runs then advance only through inngest.tick().",
								&inngest_workers,
								2, 0, 64,
								PGC_POSTMASTER,
								0,
								NULL, NULL, NULL);
	}

	DefineCustomIntVariable("inngest.idle_timeout",
							"Longest time an idle executor sleeps before it looks for due runs again.",
							"Workers are woken at commit of any change that makes a run due, and at the earliest wake-up time, so this is only a safety net.",
							&inngest_idle_timeout,
							10000, 100, 3600 * 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("inngest.runs_per_transaction",
							"Most runs an executor drives in one transaction.",
							"Quick runs that are due together share a commit; a transaction stops taking runs after 20 ms, and a step that needs the previous one checkpointed commits first. 1 commits every run on its own.",
							&inngest_runs_per_transaction,
							16, 1, 1000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("inngest.max_event_size",
							"Largest accepted event payload (the data column).",
							NULL,
							&inngest_max_event_size,
							512, 1, 1024 * 1024,
							PGC_SUSET,
							GUC_UNIT_KB,
							NULL, NULL, NULL);

	DefineCustomIntVariable("inngest.max_step_output_size",
							"Largest accepted output of a step or of a run.",
							NULL,
							&inngest_max_step_output_size,
							4096, 1, 1024 * 1024,
							PGC_SUSET,
							GUC_UNIT_KB,
							NULL, NULL, NULL);

	DefineCustomIntVariable("inngest.max_depth",
							"Longest chain of runs started by events that runs send.",
							"A run started by an event from outside has depth 0; the events a run sends (step_send_event, invoke, inngest/function.finished...) have its depth + 1, and so do the runs they start. A run that would be deeper is created skipped, so a function that triggers itself cannot loop forever.",
							&inngest_max_depth,
							16, 1, 1000,
							PGC_SUSET,
							0,
							NULL, NULL, NULL);

	DefineCustomStringVariable("inngest.fake_now",
							   "Overrides the clock inngest_pg uses for every time decision (for tests).",
							   "Empty means the real clock. Only superusers and roles granted SET on this parameter may change it: it decides when other roles' sleeps end and waits time out.",
							   &inngest_fake_now_string,
							   "",
							   PGC_SUSET,
							   0,
							   check_fake_now, assign_fake_now, NULL);

	MarkGUCPrefixReserved("inngest");
}
