/*
 * testutil.c - helpers shared by the Check suites (see testutil.h).
 */
#include "testutil.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[256];
static pid_t tmpdir_owner;

static void remove_tmpdir(void)
{
	char cmd[300];
	/* Check forks each test: only the process that made the folder removes it. */
	if (getpid() != tmpdir_owner)
		return;
	/* Only our own mkdtemp folder, whose name has no shell metacharacters. */
	if (tmpdir[0] && snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir) < (int)sizeof cmd) {
		if (system(cmd) != 0)
			fprintf(stderr, "testutil: could not remove %s\n", tmpdir);
	}
}

const char *tu_tmpdir(void)
{
	if (!tmpdir[0]) {
		const char *base = getenv("TMPDIR");
		snprintf(tmpdir, sizeof tmpdir, "%s/imfilter-test-XXXXXX", base ? base : "/tmp");
		if (!mkdtemp(tmpdir)) {
			perror("mkdtemp");
			abort();
		}
		tmpdir_owner = getpid();
		atexit(remove_tmpdir);
	}
	return tmpdir;
}

const char *tu_path(const char *name)
{
	static char bufs[8][512];
	static int next;
	char *b = bufs[next++ % 8];
	snprintf(b, 512, "%s/%s", tu_tmpdir(), name);
	return b;
}

void tu_write_file(const char *path, const void *data, size_t len)
{
	FILE *fp = fopen(path, "wb");
	ck_assert_msg(fp != NULL, "cannot create %s", path);
	ck_assert_uint_eq(fwrite(data, 1, len, fp), len);
	ck_assert_int_eq(fclose(fp), 0);
}

unsigned char *tu_read_file(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	ck_assert_msg(fp != NULL, "cannot open %s", path);
	size_t cap = 4096, n = 0;
	unsigned char *buf = malloc(cap + 1);
	ck_assert_ptr_nonnull(buf);
	size_t got;
	while ((got = fread(buf + n, 1, cap - n, fp)) > 0) {
		n += got;
		if (n == cap) {
			cap *= 2;
			buf = realloc(buf, cap + 1);
			ck_assert_ptr_nonnull(buf);
		}
	}
	ck_assert_int_eq(ferror(fp), 0);
	fclose(fp);
	buf[n] = 0;
	if (len)
		*len = n;
	return buf;
}

FILE *tu_mem_file(const void *data, size_t len)
{
	FILE *fp = tmpfile();
	ck_assert_ptr_nonnull(fp);
	if (len)
		ck_assert_uint_eq(fwrite(data, 1, len, fp), len);
	rewind(fp);
	return fp;
}

imf_status tu_read_mem(const void *data, size_t len, const imf_read_opts *opts, imf_image **out,
                       imf_error *err)
{
	FILE *fp = tu_mem_file(data, len);
	imf_read_opts def;
	if (!opts) {
		imf_read_opts_default(&def);
		opts = &def;
	}
	imf_status st = imf_read(fp, opts, out, err);
	fclose(fp);
	return st;
}

unsigned char *tu_write_mem(const imf_image *img, imf_format fmt, const imf_write_opts *opts,
                            size_t *len)
{
	FILE *fp = tmpfile();
	ck_assert_ptr_nonnull(fp);
	imf_write_opts def;
	if (!opts) {
		imf_write_opts_default(&def);
		opts = &def;
	}
	imf_error err = {0};
	imf_status st = imf_write(fp, img, fmt, opts, &err);
	ck_assert_msg(st == IMF_OK, "write failed: %s", err.msg);
	long size = ftell(fp);
	ck_assert_int_ge(size, 0);
	rewind(fp);
	unsigned char *buf = malloc((size_t)size + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)size, fp), (size_t)size);
	fclose(fp);
	buf[size] = 0;
	*len = (size_t)size;
	return buf;
}

imf_image *tu_image_from(const double *v, size_t w, size_t h)
{
	imf_image *img = NULL;
	imf_error err = {0};
	ck_assert_int_eq(imf_image_new(w, h, 1, 0, NULL, &img, &err), IMF_OK);
	for (size_t y = 0; y < h; y++) {
		float *row = imf_image_row(img, 0, y);
		for (size_t x = 0; x < w; x++)
			row[x] = (float)v[y * w + x];
	}
	return img;
}

double tu_rand(unsigned long long *state)
{
	unsigned long long x = *state ? *state : 0x9E3779B97F4A7C15ULL;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*state = x;
	return (double)(x >> 11) / 9007199254740992.0;
}

void tu_expect_message(const char *name, imf_status got, imf_status want, const imf_error *err,
                       const char *prefix, const char *key)
{
	size_t n = strlen(err->msg);
	ck_assert_msg(got == want, "%s: status %d (%s), want %d", name, got, err->msg, want);
	ck_assert_msg(strncmp(err->msg, prefix, strlen(prefix)) == 0, "%s: '%s' lacks the prefix",
	              name, err->msg);
	ck_assert_msg(strstr(err->msg, key) != NULL, "%s: '%s' lacks '%s'", name, err->msg, key);
	ck_assert_msg(n > 0 && err->msg[n - 1] != '.' && !strchr(err->msg, '\n'),
	              "%s: '%s' is not one line without a final period", name, err->msg);
}
