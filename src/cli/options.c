/*
 * options.c - the one option table.
 *
 * getopt_long's array, the short-option string, the option list of --help
 * and the hidden --dump-options listing (from which the man page's option
 * list is generated) all come from opts[] below, so they cannot drift apart.
 * 'imfilter learn' keeps its own table in learn.c and goes through the same
 * three functions (cli_opt_help, cli_opt_dump, cli_opt_parse, at the end).
 * Parsing is strict: numbers must be whole and in range, names must be
 * known, and every problem is one line on stderr with exit status 2.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum {
	OPT_FLIP = 256,
	OPT_CHANNELS,
	OPT_DEPTH,
	OPT_STATS,
	OPT_LIST,
	OPT_SHOW,
	OPT_MAX_PIXELS,
	OPT_MAX_SIDE,
	OPT_MAX_KERNEL,
	OPT_MAX_MEMORY,
	OPT_PNG_LEVEL,
	OPT_PNG_FILTER,
	OPT_PRECISION,
	OPT_IN_PLACE,
	OPT_DRY_RUN,
	OPT_SHAPE,
	OPT_EXPLAIN,
	OPT_TILE,
	OPT_SPLIT,
	OPT_SUFFIX,
	OPT_QUIET,
	OPT_VERBOSE,
	OPT_DUMP,
};

static const cli_opt_def opts[] = {
	{ "kernel", required_argument, 'k', "SPEC",
	  "kernel: a built-in name, a kernel file, or \"0 -1 0; -1 5 -1; 0 -1 0\"" },
	{ "chain", required_argument, 'e', "STAGES",
	  "a CNN-style chain: 'conv sobel-x | relu | maxpool 2' (see man imfilter)" },
	{ "pad", required_argument, 'p', "P", "padding: same (default), valid, full or a number >= 0" },
	{ "border", required_argument, 'b', "MODE",
	  "padding values: zero (default), replicate, reflect, symmetric, wrap" },
	{ "stride", required_argument, 's', "S", "step between kernel positions (default 1)" },
	{ "flip", no_argument, OPT_FLIP, NULL,
	  "true convolution (rotate the kernel 180 degrees); default is correlation" },
	{ "precision", required_argument, OPT_PRECISION, "exact|float",
	  "exact (default): sums in double, as the reference (see man imfilter); "
	  "float: sums in single precision, faster (as libvips and PyTorch)" },
	{ "channels", required_argument, OPT_CHANNELS, "gray|rgb",
	  "gray: one Rec.601 luma plane (default); rgb: filter each colour" },
	{ "output", required_argument, 'o', "FILE", "output file (same as the OUTPUT argument)" },
	{ "in-place", no_argument, OPT_IN_PLACE, NULL,
	  "let the result replace INPUT: OUTPUT (or -O's file) may be INPUT itself; "
	  "without OUTPUT, INPUT is replaced" },
	{ "format", required_argument, 'f', "FMT", "output format: png, jpeg, pnm, pfm, txt" },
	{ "map", required_argument, 'm', "MODE",
	  "to integer samples: clamp (default), abs, offset (+128), normalize" },
	{ "quality", required_argument, 'q', "N", "JPEG quality 1..100 (default 90)" },
	{ "depth", required_argument, OPT_DEPTH, "8|16",
	  "PNG/PNM sample depth (default: 16 if the input was 16-bit)" },
	{ "png-level", required_argument, OPT_PNG_LEVEL, "N",
	  "PNG zlib compression level 0..9 (default 1: fast; 9: smallest, slowest)" },
	{ "png-filter", required_argument, OPT_PNG_FILTER, "NAME",
	  "PNG row filter: none, sub, up (default), avg, paeth, all (libpng picks per row)" },
	{ "stats", optional_argument, OPT_STATS, "json",
	  "print min, max, mean and clipped counts to stderr" },
	{ "dry-run", no_argument, OPT_DRY_RUN, NULL,
	  "print each stage's output shape, parameters and receptive field; no pixels" },
	{ "shape", required_argument, OPT_SHAPE, "WxHxC", "the input shape for --dry-run, instead of a file" },
	{ "explain", no_argument, OPT_EXPLAIN, NULL,
	  "print how every output value is computed (inputs up to 16x16)" },
	{ "tile", required_argument, OPT_TILE, "COLSxROWS", "grid for several feature maps in one image" },
	{ "split", no_argument, OPT_SPLIT, NULL, "one file per feature map: OUT-0.png, OUT-1.png, ..." },
	{ "output-dir", required_argument, 'O', "DIR",
	  "batch: write each INPUT to DIR/NAME.EXT (DIR is created if missing)" },
	{ "suffix", required_argument, OPT_SUFFIX, "TEXT",
	  "batch: add TEXT before the extension (photo-edges.png)" },
	{ "files-from", required_argument, '@', "FILE",
	  "batch: read input paths from FILE, one per line ('-': stdin)" },
	{ "jobs", required_argument, 'j', "N",
	  "N threads: a batch's files in parallel, or one image's rows (default: the CPUs it may use)" },
	{ "threads", required_argument, 'j', "N", "the same as --jobs" },
	{ "quiet", no_argument, OPT_QUIET, NULL,
	  "no progress bar; no summary line unless a file failed" },
	{ "verbose", no_argument, OPT_VERBOSE, NULL,
	  "print 'INPUT -> OUTPUT' for each file written; for one file, also how it ran "
	  "(bands, threads, inner loops, anything held whole)" },
	{ "max-pixels", required_argument, OPT_MAX_PIXELS, "N",
	  "refuse images over N pixels, input or output (default 268435456)" },
	{ "max-side", required_argument, OPT_MAX_SIDE, "N",
	  "refuse images wider or taller than N (default 1000000)" },
	{ "max-kernel", required_argument, OPT_MAX_KERNEL, "N",
	  "refuse kernels wider or taller than N (default 255, at most 65535)" },
	{ "max-memory", required_argument, OPT_MAX_MEMORY, "SIZE",
	  "refuse to hold a whole image over SIZE as float planes (K, M, G, T suffixes; "
	  "default 1G; 0: no limit)" },
	{ "list-kernels", no_argument, OPT_LIST, NULL, "list the built-in kernels" },
	{ "show-kernel", required_argument, OPT_SHOW, "SPEC", "print a kernel's matrix (any -k SPEC)" },
	{ "help", no_argument, 'h', NULL, "show this help" },
	{ "version", no_argument, 'V', NULL, "show the version" },
	{ "dump-options", no_argument, OPT_DUMP, NULL, NULL },
};

#define NOPTS (sizeof opts / sizeof opts[0])

void cli_error(const char *who, const char *fmt, ...)
{
	char line[8192];
	va_list ap;
	int n = snprintf(line, sizeof line, "%s: ", who ? who : "imfilter");

	if (n < 0 || (size_t)n >= sizeof line)
		n = 0;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	va_end(ap);
	cli_message(line);
}

void cli_help(FILE *fp)
{
	fputs("Usage: imfilter [OPTIONS] [INPUT [OUTPUT]]\n"
	      "       imfilter [OPTIONS] -O DIR INPUT...\n"
	      "       imfilter learn [OPTIONS] INPUT TARGET   (see imfilter learn --help)\n"
	      "Filter an image with a convolution kernel.  INPUT and OUTPUT default to '-'\n"
	      "(standard input and output).  Input formats are detected from the content:\n"
	      "PNG, JPEG, netpbm (P1-P7), PFM and text matrices.  With -O, each INPUT is\n"
	      "written to DIR under its own name, with -f's extension (png, jpg, pnm, pfm,\n"
	      "txt) when -f is given; a bad file is reported and skipped.\n\n"
	      "Options:\n",
	      fp);
	cli_opt_help(fp, opts, NOPTS);
	fputs("\nSemantics: out(y,x) = scale * sum w(i,j) in(y*S - top + i, x*S - left + j)\n"
	      "(correlation, as in CNNs); output size floor((M - F + 2P) / S) + 1 per side;\n"
	      "'same' pads floor((F-1)/2) before and the rest after.  Kernels are never\n"
	      "normalised: only a scale given with the kernel multiplies the sum.\n"
	      "Border names from other tools are accepted:\n"
	      "  zero       constant (NumPy, SciPy), BORDER_CONSTANT (OpenCV), zeros (PyTorch)\n"
	      "  replicate  edge (NumPy), nearest (SciPy), BORDER_REPLICATE (OpenCV)\n"
	      "  reflect    reflect (NumPy, PyTorch), mirror (SciPy), BORDER_REFLECT_101 (OpenCV)\n"
	      "  symmetric  symmetric (NumPy, MATLAB), reflect (SciPy!), BORDER_REFLECT (OpenCV)\n"
	      "  wrap       wrap (NumPy, SciPy), circular (PyTorch, MATLAB), BORDER_WRAP (OpenCV)\n"
	      "\nExamples:\n"
	      "  imfilter -k sobel photo.jpg edges.png        gradient magnitude\n"
	      "  imfilter -k sobel-x -m offset in.png gx.png  signed edges around mid-gray\n"
	      "  pngtopnm in.png | imfilter -k laplacian - - | pnmtopng > out.png\n"
	      "  imfilter -k \"1 0 1; 0 1 0; 1 0 1\" -p valid m.txt -   worked example as text\n"
	      "  imfilter -e 'conv sobel-x,sobel-y | relu | maxpool 2' photo.jpg maps.png\n"
	      "  imfilter --dry-run --shape 32x32x3 -e 'conv 3x3 out=16 | relu | maxpool 2'\n"
	      "  imfilter -k sobel -f png --suffix -edges -O edges/ photos/*.jpg\n"
	      "  find . -name '*.png' | imfilter -k sobel -@ - -O out\n"
	      "\nExit status: 0 success, 1 bad input or I/O failure, 2 usage error.\n"
	      "A batch exits 1 if any file failed; a signal ends it with 128+N (Ctrl-C: 130).\n"
	      "Full documentation: man imfilter (or man -l build/imfilter.1), README.md.\n",
	      fp);
}

void cli_dump_options(FILE *fp)
{
	cli_opt_dump(fp, opts, NOPTS);
}

/* "AxB" or "AxBxC" (count numbers, each >= 1); -1 on error (after printing it). */
static int parse_dims(const char *opt, const char *s, int count, size_t *out)
{
	const char *p = s;
	for (int i = 0; i < count; i++) {
		char *end;
		unsigned long v;
		if (*p < '0' || *p > '9')
			goto bad;
		errno = 0;
		v = strtoul(p, &end, 10);
		if (errno || v < 1 || v > 1000000)
			goto bad;
		out[i] = v;
		p = end;
		if (i + 1 < count) {
			if (*p != 'x' && *p != 'X')
				goto bad;
			p++;
		}
	}
	if (*p == '\0')
		return 0;
bad:
	cli_error(NULL, "%s: '%s' is not %s of whole numbers from 1 to 1000000", opt, s,
	          count == 3 ? "WxHxC" : "COLSxROWS");
	return -1;
}

/* A whole number in [lo, hi]; -1 on error (after printing it). */
static int parse_uint(const char *opt, const char *s, unsigned long lo, unsigned long hi,
                      size_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	if (*s == '-' || *s == '+' || *s == '\0')
		goto bad;
	v = strtoul(s, &end, 10);
	if (errno || *end != '\0' || v < lo || v > hi)
		goto bad;
	*out = v;
	return 0;
bad:
	cli_error(NULL, "%s: '%s' is not a whole number in %lu..%lu", opt, s, lo, hi);
	return -1;
}

/*
 * A size in bytes: a whole number, optionally with a binary suffix K, M, G
 * or T (either case, optionally followed by "iB" or "B"): 512M, 2G, 1GiB.
 * -1 on error (after printing it).
 */
static int parse_size(const char *opt, const char *s, size_t *out)
{
	static const char units[] = "KMGT";
	unsigned long long v;
	const char *u;
	char *end;

	errno = 0;
	if (*s < '0' || *s > '9')
		goto bad;
	v = strtoull(s, &end, 10);
	if (errno)
		goto bad;
	if (*end && (u = strchr(units, *end & ~0x20)) != NULL) {
		for (int i = 0; i <= u - units; i++) {
			if (v > SIZE_MAX / 1024)
				goto bad;
			v *= 1024;
		}
		end++;
		if (strcasecmp(end, "iB") == 0 || strcasecmp(end, "B") == 0)
			end += strlen(end);
	}
	if (*end != '\0' || v > SIZE_MAX)
		goto bad;
	*out = (size_t)v;
	return 0;
bad:
	cli_error(NULL, "%s: '%s' is not a size (bytes, or with a suffix K, M, G or T: 512M, 2G; "
	          "0 for no limit)", opt, s);
	return -1;
}

static int parse_pad(const char *s, imf_conv_params *p)
{
	size_t v;
	if (strcasecmp(s, "same") == 0) {
		p->pad_mode = IMF_PAD_SAME;
	} else if (strcasecmp(s, "valid") == 0) {
		p->pad_mode = IMF_PAD_VALID;
	} else if (strcasecmp(s, "full") == 0) {
		p->pad_mode = IMF_PAD_FULL;
	} else {
		if (parse_uint("--pad", s, 0, 1000000, &v) != 0)
			return -1;
		p->pad_mode = IMF_PAD_EXPLICIT;
		p->pad = v;
	}
	return 0;
}

static int parse_one(int c, const char *arg, cli_opts *o)
{
	imf_error err = { 0 };
	size_t v;

	switch (c) {
	case 'k': o->kernel = arg; return 0;
	case 'e': o->chain = arg; return 0;
	case OPT_DRY_RUN: o->dry_run = 1; return 0;
	case OPT_EXPLAIN: o->explain = 1; return 0;
	case OPT_SPLIT: o->split = 1; return 0;
	case OPT_SHAPE: return parse_dims("--shape", arg, 3, o->shape);
	case OPT_TILE: {
		size_t d[2];
		if (parse_dims("--tile", arg, 2, d) != 0)
			return -1;
		o->tile_cols = d[0];
		o->tile_rows = d[1];
		return 0;
	}
	case 'p': return parse_pad(arg, &o->conv);
	case 'b':
		if (imf_border_parse(arg, &o->conv.border, &err) != IMF_OK) {
			cli_error(NULL, "--border: %s", err.msg);
			return -1;
		}
		return 0;
	case 's':
		if (parse_uint("--stride", arg, 1, 1000000, &v) != 0)
			return -1;
		o->conv.stride = v;
		return 0;
	case OPT_FLIP: o->conv.flip = 1; return 0;
	case OPT_PRECISION:
		if (imf_precision_parse(arg, &o->conv.precision, &err) != IMF_OK) {
			cli_error(NULL, "--precision: %s", err.msg);
			return -1;
		}
		return 0;
	case OPT_CHANNELS: return cli_parse_channels(arg, &o->channels);
	case 'o':
		o->output = arg;
		o->output_given = 1;
		return 0;
	case 'f':
		o->format = imf_format_from_name(arg);
		if (o->format == IMF_FORMAT_UNKNOWN) {
			cli_error(NULL, "--format: unknown format '%s' (png, jpeg, pnm, pfm, txt)", arg);
			return -1;
		}
		return 0;
	case 'm':
		if (imf_map_parse(arg, &o->write.map, &err) != IMF_OK) {
			cli_error(NULL, "--map: %s", err.msg);
			return -1;
		}
		return 0;
	case 'q':
		if (parse_uint("--quality", arg, 1, 100, &v) != 0)
			return -1;
		o->write.quality = (int)v;
		return 0;
	case OPT_DEPTH:
		if (strcmp(arg, "8") != 0 && strcmp(arg, "16") != 0) {
			cli_error(NULL, "--depth: '%s' is not 8 or 16", arg);
			return -1;
		}
		o->write.depth = atoi(arg);
		return 0;
	case OPT_STATS:
		if (!arg || strcasecmp(arg, "text") == 0)
			o->stats = CLI_STATS_TEXT;
		else if (strcasecmp(arg, "json") == 0)
			o->stats = CLI_STATS_JSON;
		else {
			cli_error(NULL, "--stats: unknown value '%s' (json)", arg);
			return -1;
		}
		return 0;
	case OPT_MAX_PIXELS:
		if (parse_uint("--max-pixels", arg, 1, ULONG_MAX, &v) != 0)
			return -1;
		o->limits.max_pixels = v;
		return 0;
	case OPT_MAX_SIDE:
		if (parse_uint("--max-side", arg, 1, ULONG_MAX, &v) != 0)
			return -1;
		o->limits.max_side = v;
		return 0;
	case OPT_MAX_KERNEL:
		if (parse_uint("--max-kernel", arg, 1, IMF_KERNEL_SIDE_CEILING, &v) != 0)
			return -1;
		o->limits.max_kernel = v;
		return 0;
	case OPT_MAX_MEMORY:
		if (parse_size("--max-memory", arg, &v) != 0)
			return -1;
		o->limits.max_memory = v;
		o->write.max_memory = v;
		return 0;
	case OPT_PNG_LEVEL:
		if (parse_uint("--png-level", arg, 0, 9, &v) != 0)
			return -1;
		o->write.png_level = (int)v;
		return 0;
	case OPT_PNG_FILTER:
		if (imf_png_filter_parse(arg, &o->write.png_filter, &err) != IMF_OK) {
			cli_error(NULL, "--png-filter: %s", err.msg);
			return -1;
		}
		return 0;
	case OPT_IN_PLACE: o->in_place = 1; return 0;
	case OPT_LIST: o->list_kernels = 1; return 0;
	case OPT_SHOW: o->show_kernel = arg; return 0;
	case 'O':
		if (*arg == '\0') {
			cli_error(NULL, "--output-dir: the folder name is empty");
			return -1;
		}
		o->out_dir = arg;
		return 0;
	case OPT_SUFFIX:
		if (strchr(arg, '/')) {
			cli_error(NULL, "--suffix: '%s' contains a '/'", arg);
			return -1;
		}
		o->suffix = arg;
		return 0;
	case '@': o->files_from = arg; return 0;
	case 'j':
		if (parse_uint("--jobs", arg, 1, CLI_MAX_JOBS, &v) != 0)
			return -1;
		o->jobs = v;
		return 0;
	case OPT_QUIET: o->quiet = 1; return 0;
	case OPT_VERBOSE: o->verbose = 1; return 0;
	case OPT_DUMP: o->dump_options = 1; return 0;
	case 'h': o->help = 1; return 0;
	case 'V': o->version = 1; return 0;
	}
	return -1;
}

/* -O DIR: every argument left is an INPUT; the options that make no sense for many. */
static int check_batch(int argc, char **argv, cli_opts *o)
{
	const char *clash = o->output_given ? "-o" : o->dry_run ? "--dry-run"
	                                          : o->explain  ? "--explain" : NULL;
	if (clash) {
		cli_error(NULL, "-O DIR writes one file per input: it does not go with %s", clash);
		return EXIT_USAGE;
	}
	o->inputs = argv + optind;
	o->ninputs = (size_t)(argc - optind);
	if (o->ninputs == 0 && !o->files_from) {
		cli_error(NULL, "-O DIR needs INPUT files or --files-from FILE");
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

static int parse_opt(int c, const char *arg, void *o)
{
	return parse_one(c, arg, o);
}

int cli_parse(int argc, char **argv, cli_opts *o)
{
	int rc;

	memset(o, 0, sizeof *o);
	imf_conv_params_default(&o->conv);
	imf_write_opts_default(&o->write);
	imf_limits_default(&o->limits);
	o->input = "-";
	o->output = "-";

	if ((rc = cli_opt_parse(argc, argv, opts, NOPTS, "imfilter", parse_opt, o)) != EXIT_OK)
		return rc;
	if (o->quiet && o->verbose) {
		cli_error(NULL, "give either --quiet or --verbose, not both");
		return EXIT_USAGE;
	}
	if (o->out_dir)
		return check_batch(argc, argv, o);
	if (o->files_from || o->suffix) {
		cli_error(NULL, "%s needs -O DIR (the folder for the results)",
		          o->files_from ? "--files-from" : "--suffix");
		return EXIT_USAGE;
	}
	if (optind < argc)
		o->input = argv[optind++];
	if (optind < argc) {
		if (o->output_given) {
			cli_error(NULL, "output given twice: -o %s and %s", o->output, argv[optind]);
			return EXIT_USAGE;
		}
		o->output = argv[optind++];
		o->output_given = 1;
	}
	if (optind < argc) {
		cli_error(NULL, "unexpected argument '%s': several inputs need -O DIR "
		                "(usage: imfilter [OPTIONS] [INPUT [OUTPUT]])",
		          argv[optind]);
		return EXIT_USAGE;
	}
	/* --in-place alone, as sed -i: the result replaces INPUT. */
	if (o->in_place && !o->output_given) {
		if (strcmp(o->input, "-") == 0) {
			cli_error(NULL, "--in-place needs an INPUT file to replace (not standard input)");
			return EXIT_USAGE;
		}
		o->output = o->input;
		o->output_given = 1;
	}
	return EXIT_OK;
}

/* ---- option tables and values shared with the subcommands (learn.c) ---------- */

void cli_opt_help(FILE *fp, const cli_opt_def *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char left[64];
		const cli_opt_def *d = &t[i];
		if (!d->help)
			continue;
		int len = d->val < 256 ? snprintf(left, sizeof left, "-%c, --%s", d->val, d->name)
		                       : snprintf(left, sizeof left, "    --%s", d->name);
		if (d->arg && len > 0 && (size_t)len < sizeof left)
			snprintf(left + len, sizeof left - (size_t)len,
			         d->has_arg == optional_argument ? "[=%s]" : " %s", d->arg);
		fprintf(fp, "  %-26s %s\n", left, d->help);
	}
}

void cli_opt_dump(FILE *fp, const cli_opt_def *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const cli_opt_def *d = &t[i];
		if (!d->help)
			continue;
		if (d->val < 256)
			fprintf(fp, "%c\t", d->val);
		else
			fputs("-\t", fp);
		fprintf(fp, "%s\t", d->name);
		if (!d->arg)
			fputs("-", fp);
		else if (d->has_arg == optional_argument)
			fprintf(fp, "[%s]", d->arg);
		else
			fputs(d->arg, fp);
		fprintf(fp, "\t%s\n", d->help);
	}
}

int cli_opt_parse(int argc, char **argv, const cli_opt_def *t, size_t n, const char *cmd,
                  int (*one)(int c, const char *arg, void *ctx), void *ctx)
{
	struct option *longopts = calloc(n + 1, sizeof *longopts);
	char *shortopts = malloc(3 * n + 2);
	size_t ns = 0;
	int c, idx, rc = EXIT_USAGE;

	if (!longopts || !shortopts) {
		cli_error(NULL, "out of memory");
		rc = EXIT_BAD_INPUT;
		goto done;
	}
	shortopts[ns++] = ':'; /* report a missing argument as ':' */
	for (size_t i = 0; i < n; i++) {
		longopts[i].name = t[i].name;
		longopts[i].has_arg = t[i].has_arg;
		longopts[i].flag = NULL;
		longopts[i].val = t[i].val;
		if (t[i].val < 256) {
			shortopts[ns++] = (char)t[i].val;
			if (t[i].has_arg == required_argument)
				shortopts[ns++] = ':';
		}
	}
	shortopts[ns] = '\0'; /* longopts[n] is the zeroed end mark */

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, shortopts, longopts, &idx)) != -1) {
		if (c == '?') {
			const char *arg = argv[optind - 1];
			if (optopt >= 256 || (optopt && strncmp(arg, "--", 2) == 0)) {
				/* A known long option given a value it does not take. */
				cli_error(NULL, "option '%.*s' takes no value", (int)strcspn(arg, "="),
				          arg);
			} else if (optopt)
				cli_error(NULL, "unknown option '-%c' (see %s --help)", optopt, cmd);
			else
				cli_error(NULL, "unknown option '%s' (see %s --help)", arg, cmd);
			goto done;
		}
		if (c == ':') {
			cli_error(NULL, "option '%s' needs a value (see %s --help)", argv[optind - 1],
			          cmd);
			goto done;
		}
		if (one(c, optarg, ctx) != 0)
			goto done;
	}
	rc = EXIT_OK;
done:
	free(longopts);
	free(shortopts);
	return rc;
}

int cli_parse_uint(const char *opt, const char *s, unsigned long lo, unsigned long hi,
                   size_t *out)
{
	return parse_uint(opt, s, lo, hi, out);
}

int cli_parse_pad(const char *s, imf_conv_params *p)
{
	return parse_pad(s, p);
}

int cli_parse_size(const char *opt, const char *s, size_t *out)
{
	return parse_size(opt, s, out);
}

int cli_parse_channels(const char *s, cli_channels *out)
{
	if (!strcasecmp(s, "gray") || !strcasecmp(s, "grey") || !strcasecmp(s, "luma"))
		*out = CLI_CHANNELS_GRAY;
	else if (!strcasecmp(s, "rgb") || !strcasecmp(s, "color") || !strcasecmp(s, "colour"))
		*out = CLI_CHANNELS_RGB;
	else {
		cli_error(NULL, "--channels: unknown value '%s' (gray, rgb)", s);
		return -1;
	}
	return 0;
}
