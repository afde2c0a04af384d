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

static int run(const cli_opts *o)
{
	imf_conv_params conv = o->conv;
	const char *in_name = strcmp(o->input, "-") == 0 ? "<stdin>" : o->input;
	const char *out_name = strcmp(o->output, "-") == 0 ? "<stdout>" : o->output;
	imf_kernel *k = NULL;
	imf_image *img = NULL, *work = NULL, *res = NULL;
	cli_output *out = NULL;
	FILE *in = NULL;
	imf_error err = { 0 };
	imf_read_opts ropts;
	imf_format fmt = o->format;
	int rc;

	if (!o->kernel) {
		cli_error(NULL, "no kernel: give -k NAME, -k FILE or -k \"ROWS\" (see --list-kernels)");
		return EXIT_USAGE;
	}
	rc = load_kernel(o->kernel, &k);
	if (rc != EXIT_OK)
		return rc;
	if (fmt == IMF_FORMAT_UNKNOWN && o->output_given && strcmp(o->output, "-") != 0)
		fmt = imf_format_from_path(o->output);

	rc = EXIT_BAD_INPUT;
	if (cli_output_open(o->output, &out) != 0)
		goto done;

	if (strcmp(o->input, "-") == 0) {
		in = stdin;
	} else {
		in = fopen(o->input, "rb");
		if (!in) {
			cli_error(in_name, "cannot open: %s", strerror(errno));
			goto done;
		}
	}
	imf_read_opts_default(&ropts);
	ropts.want_gray = o->channels == CLI_CHANNELS_GRAY;
	ropts.limits = o->limits;
	if (imf_read(in, &ropts, &img, &err) != IMF_OK) {
		cli_error(in_name, "%s", err.msg);
		goto done;
	}
	if (fmt == IMF_FORMAT_UNKNOWN)
		fmt = imf_image_source_format(img);
	if (fmt == IMF_FORMAT_UNKNOWN)
		fmt = IMF_FORMAT_PNG;
	if (out && !o->output_given && isatty(STDOUT_FILENO) && fmt != IMF_FORMAT_TEXT) {
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
	conv.limits = o->limits;
	if (imf_conv_run(work ? work : img, k, &conv, &res, &err) != IMF_OK) {
		cli_error(in_name, "%s", err.msg);
		rc = err.code == IMF_EINVAL ? EXIT_USAGE : EXIT_BAD_INPUT;
		goto done;
	}
	if (o->stats != CLI_STATS_NONE)
		print_stats(o, res, fmt);
	if (imf_write(cli_output_file(out), res, fmt, &o->write, &err) != IMF_OK) {
		cli_error(out_name, "%s", err.msg);
		goto done;
	}
	if (cli_output_commit(out) != 0) {
		out = NULL;
		goto done;
	}
	out = NULL;
	rc = EXIT_OK;
done:
	cli_output_abort(out);
	if (in && in != stdin)
		fclose(in);
	imf_image_free(res);
	imf_image_free(work);
	imf_image_free(img);
	imf_kernel_free(k);
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
