/*
 * numstr.c - numbers as the shortest decimal that reads back exactly.
 *
 * Kernels, chains, --explain and learn print weights and values so that a
 * person can read them and a program can parse them back to the same bits:
 * the fewest significant digits (up to 9 for a float, 17 for a double)
 * that strtod turns back into the same value, in %g form but without an
 * exponent below 1e16 ("114", not "1.14e+02").
 */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *imf_number_str(char *buf, size_t len, double v, int is_float)
{
	int prec, maxp = is_float ? 9 : 17;
	const char *e;

	if (!isfinite(v)) {
		snprintf(buf, len, "%s", isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
		return buf;
	}
	for (prec = 1; prec < maxp; prec++) {
		snprintf(buf, len, "%.*g", prec, v);
		double back = strtod(buf, NULL);
		if (is_float ? (float)back == (float)v : back == v)
			break;
	}
	snprintf(buf, len, "%.*g", prec, v);
	if ((e = strchr(buf, 'e')) != NULL) {
		long x = strtol(e + 1, NULL, 10);
		if (x >= prec && x < 16)
			snprintf(buf, len, "%.*g", (int)x + 1, v);
	}
	return buf;
}
