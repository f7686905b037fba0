/*
 * tap.h
 *	  The TAP output the small unit tests share: Check() prints one
 *	  "ok N - what" / "not ok N - what" line; a test's main() ends with
 *	  the plan ("1..TestNumber") and returns Failures > 0.
 */
#ifndef GV_TEST_TAP_H
#define GV_TEST_TAP_H

#include <stdio.h>

static int	TestNumber = 0;
static int	Failures = 0;

static void
Check(int ok, const char *what)
{
	printf("%sok %d - %s\n", ok ? "" : "not ", ++TestNumber, what);
	if (!ok)
		Failures++;
}

#endif							/* GV_TEST_TAP_H */
