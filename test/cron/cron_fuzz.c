/*-------------------------------------------------------------------------
 *
 * cron_fuzz.c
 *	  libFuzzer target for the cron core (src/cron.c): parser and next fire
 *	  time, under AddressSanitizer and UndefinedBehaviorSanitizer.
 *
 * Input: the schedule text up to the first NUL byte (or the end); after the
 * NUL, optionally, 8 bytes of start time (a CronTime, native byte order)
 * and then triples of bytes describing a synthetic zone (a change every so
 * many minutes to an offset of so many quarter hours).  Without them the
 * start is 2026-03-29 00:00 UTC and the zone is Europe/Paris-like.
 *
 * Besides not crashing, leaking or overflowing, the core must keep these
 * promises, checked with abort() so that libFuzzer reports a crash:
 *	- a refused schedule says why;
 *	- parsing is deterministic;
 *	- next fire times are whole seconds (whole minutes in UTC for a cron
 *	  schedule), strictly after the start, and the same when asked from
 *	  just before them.
 *
 * Run by test/run_fuzz.sh (make cron-fuzz).
 *
 *-------------------------------------------------------------------------
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cron.h"

#define MAX_CHANGES 8

typedef struct FuzzZone
{
	int			n;
	int64_t		at[MAX_CHANGES];
	int32_t		off[MAX_CHANGES + 1];
} FuzzZone;

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int32_t
fuzz_offset(void *arg, int64_t t, int64_t *next_change)
{
	const FuzzZone *z = arg;
	int			i = 0;

	while (i < z->n && t >= z->at[i])
		i++;
	*next_change = (i < z->n) ? z->at[i] : INT64_MAX;
	return z->off[i];
}

/* Ask for a few fire times in a row and check each */
static void
check_times(const CronSchedule *s, const CronZone *zone, CronTime start)
{
	CronTime	t = start;
	int			i;

	for (i = 0; i < 4; i++)
	{
		CronTime	next = cron_next_in_zone(s, zone, t);

		if (next == CRON_NO_TIME)
			return;
		if (next <= t || next >= CRON_TIME_END)
			abort();
		if (next % 1000000 != 0)
			abort();
		if (zone == NULL && s->seconds == 0 && next % 60000000 != 0)
			abort();
		if (cron_next_in_zone(s, zone, next - 1) != next)
			abort();
		t = next;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *text;
	size_t		n = 0;
	const uint8_t *tail;
	size_t		tail_len;
	CronTime	after = INT64_C(828057600000000);	/* 2026-03-29 UTC */
	CronSchedule s;
	CronSchedule again;
	CronError	err;
	FuzzZone	z;
	CronZone	zone;
	int64_t		at;

	/* a heap copy, so that ASan sees any read past the text's end */
	while (n < size && data[n] != 0)
		n++;
	text = malloc(n + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, n);
	text[n] = '\0';
	tail = data + n + (n < size ? 1 : 0);
	tail_len = size - (size_t) (tail - data);

	if (tail_len >= 8)
	{
		memcpy(&after, tail, 8);
		tail += 8;
		tail_len -= 8;
	}

	/* the zone: Paris-like by default, else from the remaining bytes */
	at = (after >= CRON_TIME_MIN && after < CRON_TIME_END) ?
		after / 1000000 + INT64_C(946684800) : 0;
	memset(&z, 0, sizeof(z));
	z.off[0] = 3600;
	if (tail_len < 3)
	{
		z.n = 2;
		z.at[0] = at + 3600;
		z.off[1] = 7200;
		z.at[1] = at + 3600 + 200 * 86400;
		z.off[2] = 3600;
	}
	else
	{
		z.off[0] = ((int8_t) tail[0] % 57) * 900;
		while (tail_len >= 3 && z.n < MAX_CHANGES)
		{
			at += 60 * (1 + (tail[0] | (tail[1] << 8)));
			z.at[z.n] = at;
			z.off[z.n + 1] = ((int8_t) tail[2] % 57) * 900;
			z.n++;
			tail += 3;
			tail_len -= 3;
		}
	}
	zone.offset = fuzz_offset;
	zone.arg = &z;

	if (!cron_parse(text, &s, &err))
	{
		if (err.message[0] == '\0' ||
			memchr(err.message, '\0', sizeof(err.message)) == NULL ||
			memchr(err.detail, '\0', sizeof(err.detail)) == NULL)
			abort();
		free(text);
		return 0;
	}
	if (!cron_parse(text, &again, NULL) || memcmp(&s, &again, sizeof(s)) != 0)
		abort();
	free(text);

	check_times(&s, NULL, after);
	check_times(&s, &zone, after);
	return 0;
}
