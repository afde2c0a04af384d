/*
 * main.c - imfilter's command line: read -> intensity -> convolve -> write.
 *
 * Everything that can fail because of the user's arguments is checked before
 * any input is read (exit 2), and the output's temporary file is created
 * before the work starts, so an unwritable destination fails fast (exit 1).
 * Every error is one line on stderr that starts with the file it concerns.
 */
#include "cli.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

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

/* Kernel errors: a bad spec is a usage error, an unreadable file is an I/O error. */
static int load_kernel(const char *spec, imf_kernel **k)
{
	imf_error err = { 0 };
	imf_status st = imf_kernel_parse(spec, k, &err);
	if (st == IMF_OK)
		return EXIT_OK;
	/* Name the file, unless the message already does. */
	if (access(spec, F_OK) == 0 && !strstr(err.msg, spec)) {
		cli_error(spec, "%s", err.msg);
		return st == IMF_EINVAL ? EXIT_USAGE : EXIT_BAD_INPUT;
	}
	cli_error(NULL, "%s", err.msg);
	return st == IMF_EIO ? EXIT_BAD_INPUT : EXIT_USAGE;
}

static int show_kernel(const char *spec)
{
	imf_kernel *k = NULL;
	int rc = load_kernel(spec, &k);
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

static void print_stats(const cli_opts *o, const imf_image *img, imf_format fmt)
{
	imf_stats st;
	int raw = fmt == IMF_FORMAT_PFM || fmt == IMF_FORMAT_TEXT;
	size_t clipped;

	if (imf_stats_compute(img, o->write.map, &st, NULL) != IMF_OK)
		return;
	if (raw)
		st.clipped_low = st.clipped_high = 0;
	clipped = st.clipped_low + st.clipped_high;
	if (o->stats == CLI_STATS_JSON) {
		fprintf(stderr,
		        "{\"min\": %.9g, \"max\": %.9g, \"mean\": %.9g, \"count\": %zu, "
		        "\"map\": \"%s\", \"clipped\": %zu, \"clipped_low\": %zu, "
		        "\"clipped_high\": %zu, \"nonfinite\": %zu}\n",
		        st.min, st.max, st.mean, st.count, raw ? "none" : imf_map_name(o->write.map),
		        clipped, st.clipped_low, st.clipped_high, st.nonfinite);
		return;
	}
	fprintf(stderr, "imfilter: stats: min %.6g, max %.6g, mean %.6g over %zu values", st.min,
	        st.max, st.mean, st.count);
	if (raw)
		fprintf(stderr, "; %s keeps raw values, nothing clipped\n", imf_format_name(fmt));
	else
		fprintf(stderr, "; map %s clipped %zu (%.2f%%): %zu below 0, %zu above 255\n",
		        imf_map_name(o->write.map), clipped,
		        st.count ? 100.0 * (double)clipped / (double)st.count : 0.0, st.clipped_low,
		        st.clipped_high);
	if (st.nonfinite)
		fprintf(stderr, "imfilter: stats: %zu values are NaN or infinite\n", st.nonfinite);
}

/*
 * The chain to run: -e STAGES, or the one convolution of -k/-p/-s/-b.
 * Usage errors (exit 2) are reported here, before any input is read.
 */
static int build_chain(const cli_opts *o, imf_chain **chain)
{
	imf_error err = { 0 };
	imf_kernel *k = NULL;
	int rc;

	*chain = NULL;
	if (o->chain && o->kernel) {
		cli_error(NULL, "give either -k or --chain, not both (a chain's conv stage takes the kernel)");
		return EXIT_USAGE;
	}
	if (o->chain) {
		if (imf_chain_parse(o->chain, chain, &err) != IMF_OK) {
			cli_error(NULL, "--chain: %s", err.msg);
			return err.code == IMF_EIO ? EXIT_BAD_INPUT : EXIT_USAGE;
		}
	} else {
		if (!o->kernel) {
			cli_error(NULL, "no kernel: give -k NAME, -k FILE or -k \"ROWS\", or --chain "
			                "(see --list-kernels)");
			return EXIT_USAGE;
		}
		rc = load_kernel(o->kernel, &k);
		if (rc != EXIT_OK)
			return rc;
		if (imf_chain_from_conv(k, &o->conv, chain, &err) != IMF_OK) {
			cli_error(NULL, "%s", err.msg);
			return EXIT_USAGE;
		}
	}
	imf_chain_set_limits(*chain, &o->limits);
	if (imf_chain_shape_only(*chain) && !o->dry_run) {
		cli_error(NULL, "--chain: a size-only kernel (like '3x3 out=40') needs --dry-run; "
		                "give real kernels to filter an image");
		imf_chain_free(*chain);
		*chain = NULL;
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

static FILE *open_input(const cli_opts *o, const char *in_name)
{
	FILE *in;
	if (strcmp(o->input, "-") == 0)
		return stdin;
	in = fopen(o->input, "rb");
	if (!in)
		cli_error(in_name, "cannot open: %s", strerror(errno));
	return in;
}

static void read_opts(const cli_opts *o, imf_read_opts *ropts)
{
	imf_read_opts_default(ropts);
	ropts->want_gray = o->channels == CLI_CHANNELS_GRAY;
	ropts->limits = o->limits;
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
		FILE *in = open_input(o, in_name);
		if (!in)
			return EXIT_BAD_INPUT;
		read_opts(o, &ropts);
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
	const char *in_name = strcmp(o->input, "-") == 0 ? "<stdin>" : o->input;
	imf_chain *chain = NULL;
	imf_image *img = NULL, *work = NULL, *res = NULL;
	FILE *in = NULL;
	imf_error err = { 0 };
	imf_read_opts ropts;
	imf_format fmt = o->format;
	int rc, explain_only;

	rc = build_chain(o, &chain);
	if (rc != EXIT_OK)
		return rc;
	if (o->dry_run) {
		rc = dry_run(o, chain);
		imf_chain_free(chain);
		return rc;
	}
	if (o->split && !o->output_given) {
		cli_error(NULL, "--split needs an OUTPUT file name (maps go to NAME-0.EXT, NAME-1.EXT, ...)");
		imf_chain_free(chain);
		return EXIT_USAGE;
	}
	/* --explain prints on stdout; the image is written only to a named OUTPUT. */
	explain_only = o->explain && (!o->output_given || strcmp(o->output, "-") == 0);
	if (fmt == IMF_FORMAT_UNKNOWN && o->output_given && strcmp(o->output, "-") != 0)
		fmt = imf_format_from_path(o->output);

	rc = EXIT_BAD_INPUT;
	in = open_input(o, in_name);
	if (!in)
		goto done;
	read_opts(o, &ropts);
	if (imf_read(in, &ropts, &img, &err) != IMF_OK) {
		cli_error(in_name, "%s", err.msg);
		goto done;
	}
	if (fmt == IMF_FORMAT_UNKNOWN)
		fmt = imf_image_source_format(img);
	if (fmt == IMF_FORMAT_UNKNOWN)
		fmt = IMF_FORMAT_PNG;
	if (!explain_only && !o->output_given && isatty(STDOUT_FILENO) && fmt != IMF_FORMAT_TEXT) {
		cli_error(NULL, "not writing a binary %s image to a terminal: give OUTPUT, "
		                "redirect, or use -f txt", imf_format_name(fmt));
		rc = EXIT_USAGE;
		goto done;
	}
	if (o->channels == CLI_CHANNELS_GRAY && imf_image_channels(img) > 1) {
		if (imf_image_to_luma(img, &work, &err) != IMF_OK) {
			cli_error(in_name, "%s", err.msg);
			goto done;
		}
	}
	if (o->explain) {
		if (imf_chain_explain(chain, work ? work : img, stdout, &err) != IMF_OK) {
			cli_error(in_name, "%s", err.msg);
			rc = err.code == IMF_EINVAL ? EXIT_USAGE : EXIT_BAD_INPUT;
			goto done;
		}
		if (fflush(stdout) != 0 || ferror(stdout)) {
			cli_error("<stdout>", "write failed: %s", strerror(errno));
			goto done;
		}
		if (explain_only) {
			rc = EXIT_OK;
			goto done;
		}
	}
	if (imf_chain_run(chain, work ? work : img, &res, &err) != IMF_OK) {
		cli_error(in_name, "%s", err.msg);
		rc = err.code == IMF_EINVAL ? EXIT_USAGE : EXIT_BAD_INPUT;
		goto done;
	}
	if (o->stats != CLI_STATS_NONE)
		print_stats(o, res, fmt);
	rc = cli_emit(o, res, fmt);
done:
	if (in && in != stdin)
		fclose(in);
	imf_image_free(res);
	imf_image_free(work);
	imf_image_free(img);
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

int main(int argc, char **argv)
{
	cli_opts o;
	int rc = cli_parse(argc, argv, &o);

	if (rc != EXIT_OK)
		return rc;
	if (o.help) {
		cli_help(stdout);
		return flush_stdout(EXIT_OK);
	}
	if (o.version) {
		printf("imfilter %s\n", IMF_VERSION);
		return flush_stdout(EXIT_OK);
	}
	if (o.list_kernels)
		return flush_stdout(list_kernels());
	if (o.show_kernel)
		return flush_stdout(show_kernel(o.show_kernel));
	cli_output_install_signal_handlers();
	return run(&o);
}
