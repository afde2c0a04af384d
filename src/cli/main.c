/*
 * main.c - imfilter's command line: one file, or a batch.
 *
 * Everything that can fail because of the user's arguments is checked before
 * any input is read (exit 2), and the output's temporary file is created
 * before the work starts, so an unwritable destination fails fast (exit 1).
 * Every error is one line on stderr that starts with the file it concerns.
 * One file goes through run.c here; -O DIR hands the inputs to batch.c.
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

static int list_kernels(void)
{
	for (size_t i = 0; i < imf_kernel_builtin_count(); i++) {
		imf_kernel *k = NULL;
		imf_error err = { 0 };
		char size[128];
		const char *name = imf_kernel_builtin_name(i);

		if (imf_kernel_builtin(name, &k, &err) != IMF_OK) {
			cli_error(name, "%s", err.msg);
			return EXIT_BAD_INPUT;
		}
		imf_kernel_size_str(k, size, sizeof size);
		/* Only the size proper ("3x3"), the parts are in the description. */
		size[strcspn(size, " ")] = '\0';
		printf("%-16s %-6s %s\n", name, size, imf_kernel_description(k));
		imf_kernel_free(k);
	}
	return EXIT_OK;
}

static int show_kernel(const char *spec, const imf_limits *lim)
{
	imf_kernel *k = NULL;
	int rc = cli_load_kernel(spec, lim, &k);
	if (rc != EXIT_OK)
		return rc;
	if (imf_kernel_print(k, stdout) != 0 || fflush(stdout) != 0) {
		imf_kernel_free(k);
		cli_error("<stdout>", "write failed: %s", strerror(errno));
		return EXIT_BAD_INPUT;
	}
	imf_kernel_free(k);
	return EXIT_OK;
}

/* --dry-run: shapes from --shape or the input's header; no pixels, no output. */
static int dry_run(const cli_opts *o, const imf_chain *chain)
{
	const char *in_name = strcmp(o->input, "-") == 0 ? "<stdin>" : o->input;
	size_t w = o->shape[0], h = o->shape[1], c = o->shape[2];
	imf_error err = { 0 };
	imf_status st;

	if (!w) {
		imf_read_opts ropts;
		imf_info info;
		FILE *in = cli_open_input(o);
		if (!in)
			return EXIT_BAD_INPUT;
		cli_read_opts(o, &ropts);
		st = imf_read_info(in, &ropts, &info, &err);
		if (in != stdin)
			fclose(in);
		if (st != IMF_OK) {
			cli_error(in_name, "%s", err.msg);
			return EXIT_BAD_INPUT;
		}
		w = info.width;
		h = info.height;
		c = (size_t)info.channels - (info.has_alpha ? 1 : 0);
		if (o->channels == CLI_CHANNELS_GRAY)
			c = 1;
	}
	st = imf_chain_report(chain, w, h, c, stdout, &err);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		cli_error("<stdout>", "write failed: %s", strerror(errno));
		return EXIT_BAD_INPUT;
	}
	if (st != IMF_OK) {
		cli_error(NULL, "%s", err.msg);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

static int run(const cli_opts *o)
{
	imf_chain *chain = NULL;
	int rc = cli_build_chain(o, &chain);

	if (rc != EXIT_OK)
		return rc;
	if (o->out_dir)
		rc = cli_batch(o, chain);
	else if (o->dry_run)
		rc = dry_run(o, chain);
	else if (o->split && !o->output_given) {
		cli_error(NULL, "--split needs an OUTPUT file name (maps go to NAME-0.EXT, NAME-1.EXT, ...)");
		rc = EXIT_USAGE;
	} else if ((rc = cli_output_guard_input(o)) == EXIT_OK)
		rc = cli_run_file(o, chain);
	imf_chain_free(chain);
	return rc;
}

/* Informational output (--help, --list-kernels): a failed write is an error. */
static int flush_stdout(int rc)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		if (errno != EPIPE)
			cli_error("<stdout>", "write failed: %s", strerror(errno));
		return EXIT_BAD_INPUT;
	}
	return rc;
}

/*
 * Streaming allocates and frees a few buffers a band (an encoded band, a
 * band's raw bytes), 64 KiB to a few MiB each, on every worker.  glibc
 * would hand each one back to the kernel when freed (trimming a thread's
 * heap, or unmapping a large block) and fault it in again for the next
 * band; in a threaded process every such return also interrupts the other
 * cores to flush their TLBs.  Keeping freed memory up to 64 MiB, and
 * serving blocks up to 32 MiB from the heap, took -j 2 on a 4096x4096 PGM
 * from about 29 to 26 ms (paired runs; -j 1 unchanged).  One arena for all
 * threads spares each new thread glibc's setting up a heap of its own (a
 * 128 MiB reservation trimmed with munmap: 0.6 ms on that machine, while
 * the work waits), another 1-9% on the same runs.  Measured on 2 CPUs: a
 * batch of 40 files on 2 threads took the same time either way (a file
 * makes few large allocations; small ones come from per-thread caches),
 * and peak RSS stayed the same (3.4 MB -j 1, 4.8 MB -j 2 on the PGM, 4.2
 * MB for 1024x4096 and 1024x65536, 10.3 MB for a 4096x4096 RGB JPEG to
 * PNG).  A user's own settings (MALLOC_ARENA_MAX, MALLOC_TRIM_THRESHOLD_,
 * MALLOC_MMAP_THRESHOLD_, GLIBC_TUNABLES) are left alone.
 */
static void tune_malloc(void)
{
#ifdef __GLIBC__
	if (getenv("MALLOC_ARENA_MAX") || getenv("MALLOC_TRIM_THRESHOLD_") ||
	    getenv("MALLOC_MMAP_THRESHOLD_") || getenv("GLIBC_TUNABLES"))
		return;
	/* Any setting also stops glibc's own threshold adjustments; failure only costs speed. */
	(void)mallopt(M_MMAP_THRESHOLD, 32 << 20);
	(void)mallopt(M_TRIM_THRESHOLD, 64 << 20);
	(void)mallopt(M_ARENA_MAX, 1);
#endif
}

int main(int argc, char **argv)
{
	cli_opts o;
	int rc;

	tune_malloc();
	/* 'imfilter learn ...' has its own options (learn.c); a file named learn is ./learn. */
	if (argc > 1 && strcmp(argv[1], "learn") == 0)
		return cli_learn_main(argc - 1, argv + 1);
	if ((rc = cli_parse(argc, argv, &o)) != EXIT_OK)
		return rc;
	if (o.help) {
		cli_help(stdout);
		return flush_stdout(EXIT_OK);
	}
	if (o.dump_options) {
		cli_dump_options(stdout);
		return flush_stdout(EXIT_OK);
	}
	if (o.version) {
		printf("imfilter %s\n", IMF_VERSION);
		return flush_stdout(EXIT_OK);
	}
	if (o.list_kernels)
		return flush_stdout(list_kernels());
	if (o.show_kernel)
		return flush_stdout(show_kernel(o.show_kernel, &o.limits));
	cli_output_install_signal_handlers();
	return run(&o);
}
