/*
 * bench.c - imfilter-bench: the convolution engine alone, no I/O (issue 6,
 * goal 6).  Built by `make bench` as build/imfilter-bench.
 *
 *   imfilter-bench [-s WIDTHxHEIGHT] [-r RUNS] [-b SECONDS]
 *                                        (default 4096x4096, 5 runs, 4 s)
 *
 * For each kernel it times the engine on one float plane (the public band
 * API, imf_conv_stream_run, with the whole image as the band and an output
 * allocated once, so that only the arithmetic and its memory traffic are
 * timed; default parameters: same padding, zero border, stride 1) and, in the same
 * run and on the same buffers, memcpy of the input plane into the output
 * plane.  It prints one Markdown table:
 *
 *   Mpixel/s       width * height / t_conv with threads = 1 (per thread),
 *                  and again with threads = the online CPUs
 *   conv GB/s      bytes the conv moves on one thread: 4 read + 4 written
 *                  per pixel (float planes)
 *   memcpy GB/s    the same 8 bytes per pixel: 4 read + 4 written
 *   ratio          t_memcpy / t_conv (one thread): the median over back-to-back
 *                  pairs, each conv run followed by a memcpy, so that the
 *                  machine's drift in speed touches both alike
 *
 * and checks the targets: a 3x3 kernel in float (float sums) and
 * sobel-x move at least 60% of memcpy's bytes/s, a 15x15 separable one at
 * least 25%.  Every time is the median of RUNS runs after one untimed
 * warm-up, from
 * clock_gettime(CLOCK_MONOTONIC); no further run starts once a case's runs
 * took SECONDS, so slow kernels run fewer times (the runs column says).
 * (imf_conv_run, which allocates its output on each call, would also time
 * the first touch of fresh pages; the header line gives memcpy into a freshly
 * allocated buffer, to show that cost.)
 *
 * The kernels: random non-separable float weights of 3x3, 5x5, 7x7 and
 * 15x15 on random non-integer data, with exact sums (the default) and
 * with float sums (--precision float: the goal's "in float"); a 15x15
 * Gaussian given as its full matrix (integer weights g(i) g(j) and one
 * scale, so the matrix is exactly rank 1: a separable path can detect it);
 * and sobel-x on integer-valued 0..255 data, where an integer fast path
 * would be exact.  Inputs and weights come from a fixed seed.  This is a
 * benchmark, not a test: the exit status is 0 whatever the numbers (1 on
 * an error, 2 on a usage error).
 */
#include "imfilter.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { MAX_RUNS = 1000 };

typedef struct bench_case {
	const char *name;   /* the kernel column */
	const char *data;   /* the data column */
	size_t n;           /* n x n random weights, or 0 */
	int gaussian;       /* 15x15 Gaussian as a full matrix */
	const char *spec;   /* or a built-in */
	int integer_data;
	imf_precision precision;
	double goal;        /* minimum conv/memcpy ratio, 0 for none */
} bench_case;

#define EXACT IMF_PRECISION_EXACT
#define FLOAT IMF_PRECISION_FLOAT

static const bench_case cases[] = {
	{ "3x3 random", "float", 3, 0, NULL, 0, EXACT, 0 },
	{ "3x3 random", "float", 3, 0, NULL, 0, FLOAT, 0.60 },
	{ "5x5 random", "float", 5, 0, NULL, 0, EXACT, 0 },
	{ "5x5 random", "float", 5, 0, NULL, 0, FLOAT, 0 },
	{ "7x7 random", "float", 7, 0, NULL, 0, EXACT, 0 },
	{ "7x7 random", "float", 7, 0, NULL, 0, FLOAT, 0 },
	{ "15x15 random", "float", 15, 0, NULL, 0, EXACT, 0 },
	{ "15x15 random", "float", 15, 0, NULL, 0, FLOAT, 0 },
	{ "15x15 Gaussian (separable, full matrix)", "float", 0, 1, NULL, 0, EXACT, 0.25 },
	{ "3x3 sobel-x (integer)", "integer 0..255", 0, 0, "sobel-x", 1, EXACT, 0.60 },
};

/* xorshift64: a fixed, portable sequence. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static double rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (double)(rng_state >> 11) / 9007199254740992.0;
}

static double now_s(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
		perror("imfilter-bench: clock_gettime");
		exit(1);
	}
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Append printf output to buf (of len bytes) at *pos; 0 if it does not fit. */
static int append(char *buf, size_t len, size_t *pos, const char *fmt, double v)
{
	int n = snprintf(buf + *pos, len - *pos, fmt, v);
	if (n < 0 || (size_t)n >= len - *pos)
		return 0;
	*pos += (size_t)n;
	return 1;
}

/*
 * The inline spec of a kernel: n x n random weights of either sign, magnitude
 * 0.05..1 (never 0, so no tap can be skipped), or the 15x15 Gaussian
 *   w(i, j) = g(i) g(j) / (sum g)^2,  g(i) = round(256 exp(-d^2 / (2 * 2.5^2))),
 * d = i - 7, written with integer weights and one scale so it stays rank 1.
 */
static char *kernel_spec(const bench_case *bc)
{
	size_t len = 16384, pos = 0;
	char *buf = malloc(len);
	int ok = 1;

	if (!buf)
		return NULL;
	buf[0] = '\0';
	if (bc->gaussian) {
		double g[15], sum = 0;
		for (int i = 0; i < 15; i++) {
			double d = i - 7;
			g[i] = floor(256 * exp(-d * d / (2 * 2.5 * 2.5)) + 0.5);
			sum += g[i];
		}
		ok = append(buf, len, &pos, "1/%.0f *", sum * sum);
		for (int i = 0; i < 15 && ok; i++)
			for (int j = 0; j < 15 && ok; j++)
				ok = append(buf, len, &pos, j == 0 ? (i ? "; %.0f" : " %.0f") : " %.0f",
				            g[i] * g[j]);
	} else {
		rng_state = 0x9E3779B97F4A7C15ULL ^ (uint64_t)bc->n; /* the same weights for both precisions */
		for (size_t i = 0; i < bc->n && ok; i++)
			for (size_t j = 0; j < bc->n && ok; j++) {
				double w = (0.05 + 0.95 * rnd()) * (rnd() < 0.5 ? -1 : 1);
				ok = append(buf, len, &pos, j == 0 ? (i ? "; %.4f" : "%.4f") : " %.4f", w);
			}
	}
	if (!ok) {
		free(buf);
		return NULL;
	}
	return buf;
}

static void fill(imf_image *img, int integer)
{
	size_t w = imf_image_width(img), h = imf_image_height(img);
	for (size_t y = 0; y < h; y++) {
		float *row = imf_image_row(img, 0, y);
		for (size_t x = 0; x < w; x++)
			row[x] = integer ? (float)floor(rnd() * 256) : (float)(rnd() * 255);
	}
}

/* Copy in's plane into out's (same size): one memcpy when rows are contiguous. */
static void copy_plane(const imf_image *in, imf_image *out)
{
	size_t w = imf_image_width(in), h = imf_image_height(in);
	const float *s0 = imf_image_row_const(in, 0, 0);
	float *d0 = imf_image_row(out, 0, 0);

	if ((h == 1 || imf_image_row_const(in, 0, 1) == s0 + w) &&
	    (h == 1 || imf_image_row(out, 0, 1) == d0 + w)) {
		memcpy(d0, s0, w * h * sizeof(float));
		return;
	}
	for (size_t y = 0; y < h; y++)
		memcpy(imf_image_row(out, 0, y), imf_image_row_const(in, 0, y), w * sizeof(float));
}

static volatile float sink;

/* memcpy of the plane into a buffer allocated for the copy: includes first-touch faults. */
static int time_fresh_memcpy(const imf_image *in, int runs, double *out_s)
{
	size_t w = imf_image_width(in), h = imf_image_height(in);
	const float *s0 = imf_image_row_const(in, 0, 0);
	double t[MAX_RUNS];

	for (int r = 0; r < runs; r++) {
		double t0 = now_s();
		float *d = malloc(w * h * sizeof *d);
		if (!d)
			return 0;
		for (size_t y = 0; y < h; y++)
			memcpy(d + y * w, y == 0 ? s0 : imf_image_row_const(in, 0, y), w * sizeof *d);
		t[r] = now_s() - t0;
		sink += d[w * h - 1]; /* so the copy cannot be optimised away */
		free(d);
	}
	*out_s = median(t, (size_t)runs);
	return 1;
}

/*
 * One untimed warm-up, then up to runs timed calls of imf_conv_stream_run,
 * until they took budget seconds; *med is their median, *done how many ran.
 * With copy, each timed call is followed by a timed copy_plane of the input
 * into the same output (a back-to-back pair, so that the machine's drift
 * affects both alike): *copy_med is the copies' median and *ratio_med the
 * median of the pairs' t_copy / t_conv.
 */
static int time_conv(const bench_case *bc, const imf_image *in, const imf_kernel *k,
                     const imf_conv_params *cp, int runs, double budget, double *med,
                     int *done, int copy, double *copy_med, double *ratio_med, imf_error *err)
{
	double t[MAX_RUNS], tc[MAX_RUNS], ratio[MAX_RUNS], total = 0;
	imf_conv_stream *s = NULL;
	imf_image *out = NULL;
	size_t w = imf_image_width(in), h = imf_image_height(in), ow, oh;
	int och, oa, r;

	if (imf_conv_stream_new(k, cp, w, h, imf_image_channels(in), imf_image_has_alpha(in), &s,
	                        err) != IMF_OK) {
		fprintf(stderr, "imfilter-bench: %s: %s\n", bc->name, err->msg);
		return 0;
	}
	imf_conv_stream_output(s, &ow, &oh, &och, &oa);
	if (ow != w || oh != h) {
		fprintf(stderr, "imfilter-bench: %s: output is %zux%zu, expected %zux%zu\n", bc->name,
		        ow, oh, w, h);
		imf_conv_stream_free(s);
		return 0;
	}
	if (imf_image_new(ow, oh, och, oa, NULL, &out, err) != IMF_OK) {
		fprintf(stderr, "imfilter-bench: %s: %s\n", bc->name, err->msg);
		imf_conv_stream_free(s);
		return 0;
	}
	for (r = -1; r < runs && total < budget; r++) {
		double t0 = now_s();
		imf_status st = imf_conv_stream_run(s, in, 0, out, 0, oh, err);
		double t1 = now_s();
		if (st != IMF_OK) {
			fprintf(stderr, "imfilter-bench: %s: %s\n", bc->name, err->msg);
			imf_conv_stream_free(s);
			imf_image_free(out);
			return 0;
		}
		if (r < 0)
			continue;
		t[r] = t1 - t0;
		total += t[r];
		if (copy) {
			copy_plane(in, out);
			tc[r] = now_s() - t1;
			ratio[r] = tc[r] / t[r];
		}
	}
	imf_conv_stream_free(s);
	imf_image_free(out);
	*done = r;
	*med = median(t, (size_t)r);
	if (copy) {
		*copy_med = median(tc, (size_t)r);
		*ratio_med = median(ratio, (size_t)r);
	}
	return 1;
}

static int parse_size(const char *s, size_t *w, size_t *h)
{
	char *end;
	unsigned long a, b;
	errno = 0;
	a = strtoul(s, &end, 10);
	if (errno || end == s || *end != 'x' || a == 0 || a > 1000000)
		return 0;
	s = end + 1;
	b = strtoul(s, &end, 10);
	if (errno || end == s || *end || b == 0 || b > 1000000)
		return 0;
	*w = (size_t)a;
	*h = (size_t)b;
	return 1;
}

static void usage(void)
{
	fprintf(stderr, "usage: imfilter-bench [-s WIDTHxHEIGHT] [-r RUNS] [-b SECONDS]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	size_t w = 4096, h = 4096;
	int runs = 5, rc = 1;
	double budget = 4;
	imf_image *fin = NULL, *iin = NULL;
	imf_conv_params cp, cpall;
	imf_error err = { 0 };
	double fresh;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-s") == 0 && i + 1 < argc) {
			if (!parse_size(argv[++i], &w, &h))
				usage();
		} else if (strcmp(argv[i], "-r") == 0 && i + 1 < argc) {
			char *end;
			long v;
			errno = 0;
			v = strtol(argv[++i], &end, 10);
			if (errno || *end || end == argv[i] || v < 1 || v > MAX_RUNS)
				usage();
			runs = (int)v;
		} else if (strcmp(argv[i], "-b") == 0 && i + 1 < argc) {
			char *end;
			errno = 0;
			budget = strtod(argv[++i], &end);
			if (errno || *end || end == argv[i] || !(budget > 0 && budget <= 86400))
				usage();
		} else {
			usage();
		}
	}

	imf_conv_params_default(&cp);
	cp.threads = 1; /* the per-thread figures */
	/* The benchmark sizes itself; only the library's own size checks apply. */
	cp.limits.max_pixels = (size_t)-1;
	cp.limits.max_side = (size_t)-1;
	if (cpus < 1)
		cpus = 1;
	if (cpus > IMF_MAX_THREADS)
		cpus = IMF_MAX_THREADS;
	cpall = cp;
	cpall.threads = (size_t)cpus;
	if (imf_image_new(w, h, 1, 0, NULL, &fin, &err) != IMF_OK ||
	    imf_image_new(w, h, 1, 0, NULL, &iin, &err) != IMF_OK) {
		fprintf(stderr, "imfilter-bench: %s\n", err.msg);
		goto cleanup;
	}
	fill(fin, 0);
	fill(iin, 1);
	if (!time_fresh_memcpy(fin, runs, &fresh)) {
		fprintf(stderr, "imfilter-bench: out of memory\n");
		goto cleanup;
	}

	printf("Engine alone: imf_conv_stream_run on one %zux%zu float plane, output allocated once, "
	       "no I/O; median of up to %d "
	       "runs (fewer once a case's runs took %g s). GB/s and the goals are for one thread; "
	       "each one-thread run is followed by a memcpy of the same plane, and conv/memcpy is "
	       "the median of these pairs' ratios. Exact sums are the default; float sums are "
	       "--precision float (the separable path runs float passes in both where its result "
	       "cannot be exact).\n\n"
	       "For comparison, memcpy into a freshly allocated buffer, page faults included "
	       "(what imf_conv_run, which allocates its output, also pays): %.2f GB/s.\n\n",
	       w, h, runs, budget, 8.0 * (double)w * (double)h / fresh / 1e9);
	printf("| kernel | data | --precision | runs | Mpixel/s per thread | Mpixel/s, %ld threads "
	       "| conv GB/s | memcpy GB/s | conv/memcpy | goal | result |\n", cpus);
	printf("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |\n");
	fflush(stdout);

	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
		const bench_case *bc = &cases[c];
		const imf_image *in = bc->integer_data ? iin : fin;
		imf_kernel *k = NULL;
		char *spec = bc->spec ? NULL : kernel_spec(bc);
		double conv_s, conv_all_s, copy_s, ratio, px;
		char goal[16] = "-", nruns[32];
		int done, done_all;
		imf_status st;

		if (!bc->spec && !spec) {
			fprintf(stderr, "imfilter-bench: out of memory\n");
			goto cleanup;
		}
		st = imf_kernel_parse(bc->spec ? bc->spec : spec, &k, &err);
		free(spec);
		if (st != IMF_OK) {
			fprintf(stderr, "imfilter-bench: %s: %s\n", bc->name, err.msg);
			goto cleanup;
		}
		cp.precision = cpall.precision = bc->precision;
		/* One thread, each run paired with a memcpy; then every CPU. */
		if (!time_conv(bc, in, k, &cp, runs, budget, &conv_s, &done, 1, &copy_s, &ratio,
		               &err) ||
		    (cpus > 1 && !time_conv(bc, in, k, &cpall, runs, budget, &conv_all_s, &done_all,
		                            0, NULL, NULL, &err))) {
			imf_kernel_free(k);
			goto cleanup;
		}
		imf_kernel_free(k);
		if (cpus <= 1) {
			conv_all_s = conv_s;
			done_all = done;
		}
		px = (double)w * (double)h;
		if (bc->goal > 0)
			snprintf(goal, sizeof goal, ">= %.0f%%", 100 * bc->goal);
		if (done == done_all)
			snprintf(nruns, sizeof nruns, "%d", done);
		else
			snprintf(nruns, sizeof nruns, "%d, %d", done, done_all);
		printf("| %s | %s | %s%s | %s | %.0f | %.0f | %.2f | %.2f | %.1f%% | %s | %s |\n",
		       bc->name, bc->data,
		       imf_precision_name(bc->precision),
		       bc->precision == IMF_PRECISION_EXACT ? " (default)" : "", nruns,
		       px / conv_s / 1e6, px / conv_all_s / 1e6, 8 * px / conv_s / 1e9,
		       8 * px / copy_s / 1e9, 100 * ratio, goal,
		       bc->goal > 0 ? (ratio >= bc->goal ? "PASS" : "FAIL") : "-");
		fflush(stdout);
	}
	rc = 0;
cleanup:
	imf_image_free(fin);
	imf_image_free(iin);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "imfilter-bench: write failed\n");
		rc = 1;
	}
	return rc;
}
