/*
 * run.c - one file: read -> intensity -> chain -> write.
 *
 * The single-file command and every worker of a batch go through
 * cli_run_file, so a file fails with the same one-line message either way.
 * Nothing here writes to shared state: the chain is only read (the library
 * keeps no global mutable state), options are read-only, and every message
 * goes through cli_error/cli_message as one line.
 */
#include "cli.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Kernel errors: a bad spec is a usage error, an unreadable file is an I/O error. */
int cli_load_kernel(const char *spec, const imf_limits *lim, imf_kernel **k)
{
	imf_error err = { 0 };
	imf_status st = imf_kernel_parse_limited(spec, lim, k, &err);
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

int cli_build_chain(const cli_opts *o, imf_chain **chain)
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
		if (imf_chain_parse_limited(o->chain, &o->limits, chain, &err) != IMF_OK) {
			cli_error(NULL, "--chain: %s", err.msg);
			return err.code == IMF_EIO ? EXIT_BAD_INPUT : EXIT_USAGE;
		}
	} else {
		if (!o->kernel) {
			cli_error(NULL, "no kernel: give -k NAME, -k FILE or -k \"ROWS\", or --chain "
			                "(see --list-kernels)");
			return EXIT_USAGE;
		}
		rc = cli_load_kernel(o->kernel, &o->limits, &k);
		if (rc != EXIT_OK)
			return rc;
		if (imf_chain_from_conv(k, &o->conv, chain, &err) != IMF_OK) {
			cli_error(NULL, "%s", err.msg);
			return EXIT_USAGE;
		}
	}
	imf_chain_set_limits(*chain, &o->limits);
	/* A batch runs files in parallel; one file splits its rows instead. */
	imf_chain_set_threads(*chain, o->out_dir ? 1 : cli_thread_count(o));
	imf_chain_set_precision(*chain, o->conv.precision);
	if (imf_chain_shape_only(*chain) && !o->dry_run) {
		cli_error(NULL, "--chain: a size-only kernel (like '3x3 out=40') needs --dry-run; "
		                "give real kernels to filter an image");
		imf_chain_free(*chain);
		*chain = NULL;
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

size_t cli_thread_count(const cli_opts *o)
{
	return o->jobs ? o->jobs : cli_cpu_count();
}

static const char *input_name(const cli_opts *o)
{
	return strcmp(o->input, "-") == 0 ? "<stdin>" : o->input;
}

FILE *cli_open_input(const cli_opts *o)
{
	struct stat st;
	FILE *in;

	if (strcmp(o->input, "-") == 0)
		return stdin;
	in = fopen(o->input, "rb");
	if (!in) {
		cli_error(o->input, "cannot open: %s", strerror(errno));
		return NULL;
	}
	/* fopen opens a folder for reading; say what it is rather than EISDIR. */
	if (fstat(fileno(in), &st) == 0 && S_ISDIR(st.st_mode)) {
		cli_error(o->input, "is a folder");
		fclose(in);
		return NULL;
	}
	return in;
}

void cli_read_opts(const cli_opts *o, imf_read_opts *ropts)
{
	imf_read_opts_default(ropts);
	ropts->want_gray = o->channels == CLI_CHANNELS_GRAY;
	ropts->limits = o->limits;
}

/* --stats on stderr; in a batch each line names its file instead of "imfilter". */
static void print_stats(const cli_opts *o, const imf_image *img, imf_format fmt)
{
	imf_stats st;
	int raw = fmt == IMF_FORMAT_PFM || fmt == IMF_FORMAT_TEXT;
	size_t clipped;
	char line[1024];
	int n;

	if (imf_stats_compute(img, o->write.map, &st, NULL) != IMF_OK)
		return;
	if (raw)
		st.clipped_low = st.clipped_high = 0;
	clipped = st.clipped_low + st.clipped_high;
	if (o->stats == CLI_STATS_JSON) {
		/* In a batch the object says which file: JSON-escaped, control characters dropped. */
		char file[600] = "";
		if (o->batch) {
			size_t j = 0;
			strcpy(file, "\"file\": \"");
			j = strlen(file);
			for (const char *s = o->input; *s && j < sizeof file - 8; s++) {
				if (*s == '"' || *s == '\\')
					file[j++] = '\\';
				if ((unsigned char)*s >= 0x20)
					file[j++] = *s;
			}
			strcpy(file + j, "\", ");
		}
		snprintf(line, sizeof line,
		         "{%s\"min\": %.9g, \"max\": %.9g, \"mean\": %.9g, \"count\": %zu, "
		         "\"map\": \"%s\", \"clipped\": %zu, \"clipped_low\": %zu, "
		         "\"clipped_high\": %zu, \"nonfinite\": %zu}",
		         file, st.min, st.max, st.mean, st.count,
		         raw ? "none" : imf_map_name(o->write.map), clipped, st.clipped_low,
		         st.clipped_high, st.nonfinite);
		cli_message(line);
		return;
	}
	n = snprintf(line, sizeof line, "%s: stats: min %.6g, max %.6g, mean %.6g over %zu value%s",
	             o->batch ? o->input : "imfilter", st.min, st.max, st.mean, st.count,
	             st.count == 1 ? "" : "s");
	if (n < 0 || (size_t)n >= sizeof line)
		n = (int)strlen(line);
	if (raw)
		snprintf(line + n, sizeof line - (size_t)n, "; %s keeps raw values, nothing clipped",
		         imf_format_name(fmt));
	else
		snprintf(line + n, sizeof line - (size_t)n,
		         "; map %s clipped %zu (%.2f%%): %zu below 0, %zu above 255",
		         imf_map_name(o->write.map), clipped,
		         st.count ? 100.0 * (double)clipped / (double)st.count : 0.0,
		         st.clipped_low, st.clipped_high);
	cli_message(line);
	if (st.nonfinite) {
		snprintf(line, sizeof line, "%s: stats: %zu value%s NaN or infinite",
		         o->batch ? o->input : "imfilter", st.nonfinite,
		         st.nonfinite == 1 ? " is" : "s are");
		cli_message(line);
	}
}

/* Does this run go through the band pipeline (stream.c)? */
static int streamable(const cli_opts *o, const imf_chain *chain, const imf_kernel **k,
                      const imf_conv_params **p)
{
	return !o->explain && o->stats == CLI_STATS_NONE && !o->split &&
	       imf_chain_single_conv(chain, k, p);
}

int cli_run_file(const cli_opts *o, const imf_chain *chain)
{
	const char *in_name = input_name(o);
	imf_image *img = NULL, *work = NULL, *res = NULL;
	imf_reader *reader = NULL;
	const imf_kernel *sk = NULL;
	const imf_conv_params *sp = NULL;
	imf_info info;
	FILE *in = NULL;
	imf_error err = { 0 };
	imf_read_opts ropts;
	imf_format fmt = o->format;
	int rc = EXIT_BAD_INPUT, explain_only, fallback = 0;

	/* --explain prints on stdout; the image is written only to a named OUTPUT. */
	explain_only = o->explain && (!o->output_given || strcmp(o->output, "-") == 0);
	if (fmt == IMF_FORMAT_UNKNOWN && o->output_given && strcmp(o->output, "-") != 0)
		fmt = imf_format_from_path(o->output);

	in = cli_open_input(o);
	if (!in)
		goto done;
	cli_read_opts(o, &ropts);
	if (imf_reader_open(in, &ropts, &reader, &err) != IMF_OK) {
		cli_error(in_name, "%s", err.msg);
		goto done;
	}
	imf_reader_info(reader, &info);
	if (fmt == IMF_FORMAT_UNKNOWN)
		fmt = info.format;
	if (fmt == IMF_FORMAT_UNKNOWN)
		fmt = IMF_FORMAT_PNG;
	if (!explain_only && !o->output_given && isatty(STDOUT_FILENO) && fmt != IMF_FORMAT_TEXT) {
		cli_error(NULL, "not writing a binary %s image to a terminal: give OUTPUT, "
		                "redirect, or use -f txt", imf_format_name(fmt));
		rc = EXIT_USAGE;
		goto done;
	}
	if (streamable(o, chain, &sk, &sp)) {
		rc = cli_stream_file(o, sk, sp, reader, fmt, &fallback);
		if (!fallback)
			goto done;
		rc = EXIT_BAD_INPUT;
	}
	if (o->verbose && !o->batch && !fallback) {
		char line[1024];
		snprintf(line, sizeof line, "%s: holding the whole image: %s", in_name,
		         o->explain ? "--explain shows every value"
		         : o->stats != CLI_STATS_NONE ? "--stats looks at every value"
		         : o->split ? "--split writes each map apart"
		                    : "a --chain runs stage after stage on whole images");
		cli_message(line);
	}
	if (imf_reader_read_image(reader, &img, &err) != IMF_OK) {
		cli_error(in_name, "%s", err.msg);
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
			if (errno != EPIPE)
				cli_error("<stdout>", "write failed: %s", strerror(errno));
			goto done;
		}
		if (explain_only) {
			rc = EXIT_OK;
			goto done;
		}
	}
	/* A batch that was asked to stop starts no more work on this file. */
	if (cli_stop_signal())
		goto done;
	if (imf_chain_run(chain, work ? work : img, &res, &err) != IMF_OK) {
		cli_error(in_name, "%s", err.msg);
		rc = err.code == IMF_EINVAL ? EXIT_USAGE : EXIT_BAD_INPUT;
		goto done;
	}
	if (o->stats != CLI_STATS_NONE)
		print_stats(o, res, fmt);
	rc = cli_emit(o, res, fmt);
done:
	imf_reader_free(reader);
	if (in && in != stdin)
		fclose(in);
	imf_image_free(res);
	imf_image_free(work);
	imf_image_free(img);
	return rc;
}
