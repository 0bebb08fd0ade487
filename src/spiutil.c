/*-------------------------------------------------------------------------
 *
 * spiutil.c
 *	  Running the extension's own SQL: every statement is prepared once per
 *	  backend (SPI_prepare + SPI_keepplan) and executed with parameters,
 *	  never with values pasted into its text.
 *
 *-------------------------------------------------------------------------
 */
#include "inngest.h"

#include "utils/snapmgr.h"

#include "spiutil.h"

/*
 * Prepare sql once per backend and keep the plan in *slot.  PostgreSQL's
 * plan cache revalidates it when the tables it uses change (or are dropped
 * and created again with the extension).
 */
SPIPlanPtr
inngest_keep_plan(SPIPlanPtr *slot, const char *sql, int nargs,
				  const Oid *types)
{
	if (*slot == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare(sql, nargs, (Oid *) types);

		if (plan == NULL)
			elog(ERROR, "could not prepare \"%s\": %s", sql,
				 SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "SPI_keepplan failed");
		*slot = plan;
	}
	return *slot;
}

static uint64
check_result(int ret, int expected, const char *sql)
{
	if (ret != expected)
		elog(ERROR, "inngest_pg internal statement failed (%s): %s",
			 SPI_result_code_string(ret), sql);
	return SPI_processed;
}

/*
 * Execute the kept plan in *slot (prepared from sql on first use) with a
 * fresh snapshot; an outcome other than expected is an internal error.
 * Returns SPI_processed.
 */
uint64
inngest_run_plan(SPIPlanPtr *slot, const char *sql, int nargs, const Oid *types,
				 Datum *values, const char *nulls, int expected)
{
	return check_result(SPI_execute_plan(inngest_keep_plan(slot, sql, nargs, types),
										 values, nulls, false, 0),
						expected, sql);
}

/*
 * The same with the latest snapshot, whatever the transaction's isolation
 * level: an event inserted in a REPEATABLE READ transaction must still see
 * every wait committed before it took the event name's lock (waits.c), and
 * a run's row is locked as it is now.
 */
uint64
inngest_run_plan_latest(SPIPlanPtr *slot, const char *sql, int nargs,
						const Oid *types, Datum *values, const char *nulls,
						int expected)
{
	return check_result(SPI_execute_snapshot(inngest_keep_plan(slot, sql, nargs, types),
											 values, nulls, GetLatestSnapshot(),
											 InvalidSnapshot, false, false, 0),
						expected, sql);
}

/* SPI_connect, or an internal error */
void
inngest_spi_connect(void)
{
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
}
