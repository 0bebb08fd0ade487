/*-------------------------------------------------------------------------
 *
 * schedules.c
 *	  Cron triggers: starting a run for each due slot of a schedule.
 *
 * inngest.schedules holds one row per cron trigger with the next slot to
 * fire (next_at; catalog.c writes the rows when a function is created).  Firing a slot locks the row (FOR UPDATE SKIP LOCKED),
 * starts the run and moves next_at past the slot, all in one transaction:
 * so a slot starts exactly one run, whether the launcher, several
 * sessions calling tick(), or a restart in between are involved.  After
 * downtime only the latest missed slot fires: a schedule that missed a
 * night of "every minute" starts one run, not 600.
 *
 * The launcher fires schedules with the real clock and sleeps until the
 * next one; create_function and delete_function wake it at commit, so a
 * changed schedule takes effect at once.  tick() fires them with
 * inngest.fake_now.
 *
 *-------------------------------------------------------------------------
 */
#include "inngest.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "cron.h"
#include "jsonutil.h"
#include "lifecycle.h"
#include "schedules.h"
#include "spiutil.h"

#define TIMER_EVENT "inngest/scheduled.timer"

typedef struct SchedulePlans
{
	SPIPlanPtr	due;
	SPIPlanPtr	due_own;
	SPIPlanPtr	advance;
	SPIPlanPtr	next;
} SchedulePlans;

static SchedulePlans plans;

/*
 * The latest slot at or before now, given that first (at or before now) is
 * one.  Walks forward; if very many slots were missed, it looks back from
 * now over growing windows instead of walking them all.
 */
static TimestampTz
latest_slot(const CronSchedule *s, TimestampTz first, TimestampTz now)
{
	TimestampTz slot = first;
	TimestampTz next;
	int64		back;
	int			i;

	for (i = 0; i < 1000; i++)
	{
		next = cron_next_time(s, slot);
		if (next > now)
			return slot;
		slot = next;
	}
	for (back = USECS_PER_HOUR; now - back > slot; back *= 8)
	{
		next = cron_next_time(s, now - back);
		if (next <= now)
		{
			slot = next;
			break;
		}
	}
	while ((next = cron_next_time(s, slot)) <= now)
		slot = next;
	return slot;
}

/* The event a scheduled run gets: Inngest's inngest/scheduled.timer */
static Jsonb *
timer_event(const char *function_id, int position, const char *cron,
			TimestampTz slot)
{
	JsonbParseState *state = NULL;
	char	   *id = psprintf("cron:%s:%d:" INT64_FORMAT, function_id, position,
							  inngest_unix_ms(slot));

	(void) pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	jsonb_push_string(&state, "cron", cron, strlen(cron));
	return jsonb_event(TIMER_EVENT, strlen(TIMER_EVENT),
					   JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, NULL)),
					   id, strlen(id), slot);
}

/*
 * Start one run for each schedule due at now (at most max), in the
 * current transaction.  Returns how many fired.  driver: InvalidOid for
 * every schedule (the launcher, an admin's tick()), else only those of
 * functions whose owner that role has the privileges of.  Runs as the
 * extension owner with SPI connected.
 */
int
schedules_fire(TimestampTz now, int max, Oid driver)
{
	Oid			types[3] = {TIMESTAMPTZOID, INT4OID, OIDOID};
	Datum		values[3];
	SPITupleTable *tuptable;
	uint64		n;
	uint64		i;

	values[0] = TimestampTzGetDatum(now);
	values[1] = Int32GetDatum(max);
	values[2] = ObjectIdGetDatum(driver);
	if (!OidIsValid(driver))
		n = inngest_run_plan(&plans.due,
							 "SELECT function_id, position, cron, next_at "
							 "FROM inngest.schedules WHERE next_at <= $1 "
							 "ORDER BY next_at LIMIT $2 FOR UPDATE SKIP LOCKED",
							 2, types, values, NULL, SPI_OK_SELECT);
	else
		n = inngest_run_plan(&plans.due_own,
							 "SELECT s.function_id, s.position, s.cron, s.next_at "
							 "FROM inngest.schedules s JOIN inngest.functions f "
							 "ON f.id OPERATOR(pg_catalog.=) s.function_id "
							 "WHERE s.next_at <= $1 "
							 "AND pg_catalog.pg_has_role($3, f.owner, 'USAGE') "
							 "ORDER BY s.next_at LIMIT $2 FOR UPDATE OF s SKIP LOCKED",
							 3, types, values, NULL, SPI_OK_SELECT);
	tuptable = SPI_tuptable;
	for (i = 0; i < n; i++)
	{
		HeapTuple	tup = tuptable->vals[i];
		TupleDesc	desc = tuptable->tupdesc;
		bool		isnull;
		char	   *function_id = TextDatumGetCString(SPI_getbinval(tup, desc, 1, &isnull));
		int			position = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
		char	   *cron = TextDatumGetCString(SPI_getbinval(tup, desc, 3, &isnull));
		TimestampTz first = DatumGetTimestampTz(SPI_getbinval(tup, desc, 4, &isnull));
		CronSchedule sched;
		TimestampTz slot;
		Oid			atypes[3] = {TEXTOID, INT4OID, TIMESTAMPTZOID};
		Datum		avalues[3];

		cron_parse_or_error(cron, &sched);
		slot = latest_slot(&sched, first, now);
		(void) lifecycle_start_run(function_id,
								   timer_event(function_id, position, cron, slot), 0);

		avalues[0] = CStringGetTextDatum(function_id);
		avalues[1] = Int32GetDatum(position);
		avalues[2] = TimestampTzGetDatum(cron_next_time(&sched, slot));
		(void) inngest_run_plan(&plans.advance,
								"UPDATE inngest.schedules SET next_at = $3 "
								"WHERE function_id = $1 AND position = $2",
								3, atypes, avalues, NULL, SPI_OK_UPDATE);
	}
	return (int) n;
}

/* The earliest next slot of any schedule, or 0 if there is none */
TimestampTz
schedules_next_fire(void)
{
	bool		isnull;
	Datum		next;

	(void) inngest_run_plan(&plans.next,
							"SELECT pg_catalog.min(next_at) FROM inngest.schedules "
							"WHERE next_at < 'infinity'",
							0, NULL, NULL, NULL, SPI_OK_SELECT);
	next = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return isnull ? 0 : DatumGetTimestampTz(next);
}
