/*
 * testutil.h - helpers shared by the Check suites.
 *
 * Each tests/check_NAME.c defines its suite function and ends with
 * IMF_TEST_MAIN(NAME_suite).  Files a test makes go under a fresh temporary
 * folder (tu_tmpdir()) that is removed at exit.
 */
#ifndef IMF_TESTUTIL_H
#define IMF_TESTUTIL_H

#include <check.h>
#include <stddef.h>
#include <stdio.h>

#include "imfilter.h"

/* A per-process temporary folder, created on first use. */
const char *tu_tmpdir(void);
/* tu_tmpdir()/name in a static rotating buffer (valid for a few calls). */
const char *tu_path(const char *name);
/* Write len bytes to path; fails the test on error. */
void tu_write_file(const char *path, const void *data, size_t len);
/* Read a whole file (malloc'd, NUL-terminated); *len gets its size. */
unsigned char *tu_read_file(const char *path, size_t *len);
/* A temporary FILE holding len bytes of data, at its start. */
FILE *tu_mem_file(const void *data, size_t len);
/* Read an image from memory through imf_read (via a temporary FILE). */
imf_status tu_read_mem(const void *data, size_t len, const imf_read_opts *opts, imf_image **out,
                       imf_error *err);
/* Write img as fmt into memory (malloc'd); *len gets the size. */
unsigned char *tu_write_mem(const imf_image *img, imf_format fmt, const imf_write_opts *opts,
                            size_t *len);
/* A 1-channel image from a row-major array of doubles. */
imf_image *tu_image_from(const double *v, size_t w, size_t h);
/*
 * An error as the house style wants it: status want, message starting with
 * prefix ("PNM: "), containing key, one line, no trailing period.
 */
void tu_expect_message(const char *name, imf_status got, imf_status want, const imf_error *err,
                       const char *prefix, const char *key);
/* Deterministic pseudo-random numbers (xorshift), uniform in [0, 1). */
double tu_rand(unsigned long long *state);

#define IMF_TEST_MAIN(suite_fn)                                    \
	int main(void)                                                 \
	{                                                              \
		SRunner *sr = srunner_create(suite_fn());                  \
		srunner_run_all(sr, CK_NORMAL);                            \
		int failed = srunner_ntests_failed(sr);                    \
		srunner_free(sr);                                          \
		return failed == 0 ? 0 : 1;                                \
	}

#endif
