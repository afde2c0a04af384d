/*
 * learn.c - 'imfilter learn [OPTIONS] INPUT TARGET': the kernel (and bias)
 * that turns INPUT into TARGET, printed in the kernel-file format.
 *
 * A thin client of imf_learn_run / imf_learn_explain (src/learn.c): parse
 * the options from this file's own table (same machinery as options.c's,
 * so --help, --dump-options and the man page come from it), open the output
 * (atomically, before any work), read both images the way filtering reads
 * them, learn, and write the kernel with a comment header that gives the
 * loss, how many target values were used and left out, the bias and the
 * exact command that applies the result.  The kernel-file format has no
 * bias, so a non-zero bias goes into that command as a chain's bias=.
 * Exit status as for filtering: 1 for unreadable or unusable files, 2 for
 * usage errors, which include a TARGET whose size does not fit the options
 * and a learning rate that makes gd diverge.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum {
	L_SIZE = 256,
	L_FLIP,
	L_CHANNELS,
	L_SOLVER,
	L_OPTIMIZER,
	L_LR,
	L_MOMENTUM,
	L_EPOCHS,
	L_RIDGE,
	L_INIT,
	L_MASK,
	L_NO_MASK,
	L_DIGITS,
	L_EXPLAIN,
	L_QUIET,
	L_MAX_PIXELS,
	L_MAX_SIDE,
	L_MAX_KERNEL,
	L_MAX_MEMORY,
	L_DUMP,
};

static const cli_opt_def learn_opts[] = {
	{ "size", required_argument, L_SIZE, "HxW",
	  "kernel size, rows x columns as PyTorch's kernel_size (default 3x3)" },
	{ "pad", required_argument, 'p', "P", "padding as for filtering: same (default), valid, full, N" },
	{ "border", required_argument, 'b', "MODE",
	  "padding values: zero (default), replicate, reflect, symmetric, wrap" },
	{ "stride", required_argument, 's', "S", "step between kernel positions (default 1)" },
	{ "flip", no_argument, L_FLIP, NULL, "learn the kernel of a true convolution (--flip)" },
	{ "channels", required_argument, L_CHANNELS, "gray|rgb",
	  "gray: learn on luma (default); rgb: one kernel over R, G and B" },
	{ "solver", required_argument, L_SOLVER, "gd|exact",
	  "gd: gradient descent (default); exact: least squares (normal equations)" },
	{ "optimizer", required_argument, L_OPTIMIZER, "momentum|sgd|adam",
	  "gd's update: heavy-ball momentum (default), plain sgd, or adam" },
	{ "lr", required_argument, L_LR, "X",
	  "learning rate on intensities divided by the largest |INPUT| (default: "
	  "1/(H*W+1); adam 0.05)" },
	{ "momentum", required_argument, L_MOMENTUM, "B",
	  "momentum's beta (default 0.99), adam's beta1 (default 0.9)" },
	{ "epochs", required_argument, L_EPOCHS, "N", "gd: full passes over the image (default 3000)" },
	{ "ridge", required_argument, L_RIDGE, "R",
	  "exact: R times the mean diagonal is added to the normal equations (default 1e-9)" },
	{ "init", required_argument, L_INIT, "SPEC",
	  "gd and --explain start from this kernel (default: all 0)" },
	{ "mask-saturated", no_argument, L_MASK, NULL,
	  "leave out TARGET values 0 and 255, as clipped: the default for 8/16-bit files, "
	  "given for PFM/text too" },
	{ "no-mask-saturated", no_argument, L_NO_MASK, NULL, "use every TARGET value" },
	{ "digits", required_argument, L_DIGITS, "N",
	  "significant digits of the weights written (default 6; 0: all 17)" },
	{ "explain", no_argument, L_EXPLAIN, NULL,
	  "print one gradient step in full, as a textbook (inputs up to 8x8)" },
	{ "output", required_argument, 'o', "FILE", "write the kernel to FILE (default: stdout)" },
	{ "quiet", no_argument, L_QUIET, NULL, "no progress line and no summary on stderr" },
	{ "max-pixels", required_argument, L_MAX_PIXELS, "N",
	  "refuse images over N pixels (default 268435456)" },
	{ "max-side", required_argument, L_MAX_SIDE, "N",
	  "refuse images wider or taller than N (default 1000000)" },
	{ "max-kernel", required_argument, L_MAX_KERNEL, "N",
	  "refuse kernels wider or taller than N (default 255)" },
	{ "max-memory", required_argument, L_MAX_MEMORY, "SIZE",
	  "refuse images, or working copies, over SIZE as float planes (default 1G; 0: no limit)" },
	{ "help", no_argument, 'h', NULL, "show this help" },
	{ "dump-options", no_argument, L_DUMP, NULL, NULL },
};

#define NLEARN (sizeof learn_opts / sizeof learn_opts[0])
#define CMD "imfilter learn"
/*
 * Above COND_WARN the weights are poorly determined: measured on the
 * samples, well-determined problems stay below 4e5 (a large smooth photo
 * with a 5x5 kernel), while a ramp or a two-level image with most values
 * clipped reach 1e8 to 1e10, where 8-bit rounding noise turns into errors
 * of 1e-2 to 5 in the weights.  Above COND_GD, momentum's default beta no
 * longer damps every direction at its full rate (see
 * imf_learn_default_momentum), so an unconverged gd run says so.
 */
#define COND_WARN 1e7
#define COND_GD 4e4
/* Digits of the written weights unless --digits says otherwise. */
#define DEFAULT_DIGITS 6

typedef struct learn_cli {
	imf_learn_params p;
	cli_channels channels;
	const char *init;
	const char *output;
	const char *input, *target;
	int explain, quiet, help, dump;
	imf_limits limits;
} learn_cli;

/* A plain decimal number (no hex, inf or nan) above 0 (positive) or >= 0; -1 after reporting. */
static int parse_real(const char *opt, const char *s, int positive, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (*s == '\0' || *end != '\0' || errno || strspn(s, "0123456789+-.eE") != strlen(s) ||
	    !isfinite(v) || v < 0 || (positive && v == 0)) {
		cli_error(NULL, "%s: '%s' is not a number %s", opt, s, positive ? "above 0" : ">= 0");
		return -1;
	}
	*out = v;
	return 0;
}

/* "HxW": two whole numbers >= 1; -1 after reporting. */
static int parse_size(const char *s, size_t *rows, size_t *cols)
{
	char *end;
	unsigned long h, w;

	errno = 0;
	if (*s < '0' || *s > '9')
		goto bad;
	h = strtoul(s, &end, 10);
	if (errno || (*end != 'x' && *end != 'X') || end[1] < '0' || end[1] > '9')
		goto bad;
	w = strtoul(end + 1, &end, 10);
	if (errno || *end != '\0' || h > IMF_KERNEL_SIDE_CEILING || w > IMF_KERNEL_SIDE_CEILING)
		goto bad;
	if (h == 0 || w == 0) {
		cli_error(NULL, "--size: '%s': a kernel needs at least 1 row and 1 column", s);
		return -1;
	}
	*rows = h;
	*cols = w;
	return 0;
bad:
	cli_error(NULL, "--size: '%s' is not HxW (rows x columns, such as 3x3 or 1x5)", s);
	return -1;
}

static int parse_learn_one(int c, const char *arg, void *ctx)
{
	learn_cli *o = ctx;
	imf_learn_params *p = &o->p;
	imf_error err = { 0 };
	size_t v;

	switch (c) {
	case L_SIZE: return parse_size(arg, &p->rows, &p->cols);
	case 'p': return cli_parse_pad(arg, &p->conv);
	case 'b':
		if (imf_border_parse(arg, &p->conv.border, &err) != IMF_OK) {
			cli_error(NULL, "--border: %s", err.msg);
			return -1;
		}
		return 0;
	case 's':
		if (cli_parse_uint("--stride", arg, 1, 1000000, &v) != 0)
			return -1;
		p->conv.stride = v;
		return 0;
	case L_FLIP: p->conv.flip = 1; return 0;
	case L_CHANNELS: return cli_parse_channels(arg, &o->channels);
	case L_SOLVER:
		if (!strcasecmp(arg, "gd"))
			p->solver = IMF_LEARN_GD;
		else if (!strcasecmp(arg, "exact"))
			p->solver = IMF_LEARN_EXACT;
		else {
			cli_error(NULL, "--solver: unknown solver '%s' (gd, exact)", arg);
			return -1;
		}
		return 0;
	case L_OPTIMIZER:
		if (!strcasecmp(arg, "momentum"))
			p->optimizer = IMF_LEARN_MOMENTUM;
		else if (!strcasecmp(arg, "sgd"))
			p->optimizer = IMF_LEARN_SGD;
		else if (!strcasecmp(arg, "adam"))
			p->optimizer = IMF_LEARN_ADAM;
		else {
			cli_error(NULL, "--optimizer: unknown optimizer '%s' (momentum, sgd, adam)", arg);
			return -1;
		}
		return 0;
	case L_LR: return parse_real("--lr", arg, 1, &p->lr);
	case L_MOMENTUM:
		if (parse_real("--momentum", arg, 0, &p->momentum) != 0)
			return -1;
		if (p->momentum >= 1) {
			cli_error(NULL, "--momentum: '%s' is not below 1", arg);
			return -1;
		}
		return 0;
	case L_EPOCHS:
		if (cli_parse_uint("--epochs", arg, 1, 100000000, &v) != 0)
			return -1;
		p->epochs = v;
		return 0;
	case L_RIDGE: return parse_real("--ridge", arg, 0, &p->ridge);
	case L_INIT: o->init = arg; return 0;
	case L_MASK: p->mask_saturated = IMF_LEARN_MASK_ALL; return 0;
	case L_NO_MASK: p->mask_saturated = IMF_LEARN_MASK_NONE; return 0;
	case L_DIGITS:
		if (cli_parse_uint("--digits", arg, 0, 17, &v) != 0)
			return -1;
		p->digits = (int)v;
		return 0;
	case L_EXPLAIN: o->explain = 1; return 0;
	case 'o': o->output = arg; return 0;
	case L_QUIET: o->quiet = 1; return 0;
	case L_MAX_PIXELS:
		if (cli_parse_uint("--max-pixels", arg, 1, (unsigned long)-1, &v) != 0)
			return -1;
		o->limits.max_pixels = v;
		return 0;
	case L_MAX_SIDE:
		if (cli_parse_uint("--max-side", arg, 1, (unsigned long)-1, &v) != 0)
			return -1;
		o->limits.max_side = v;
		return 0;
	case L_MAX_KERNEL:
		if (cli_parse_uint("--max-kernel", arg, 1, IMF_KERNEL_SIDE_CEILING, &v) != 0)
			return -1;
		o->limits.max_kernel = v;
		return 0;
	case L_MAX_MEMORY: return cli_parse_size("--max-memory", arg, &o->limits.max_memory);
	case 'h': o->help = 1; return 0;
	case L_DUMP: o->dump = 1; return 0;
	}
	return -1;
}

static void learn_help(FILE *fp)
{
	fputs("Usage: imfilter learn [OPTIONS] INPUT TARGET\n"
	      "Find the kernel and bias that turn INPUT into TARGET: the weights w and bias b\n"
	      "minimising the mean squared error between filter(INPUT) and TARGET, with the\n"
	      "padding, border and stride given here as for filtering.  Prints the kernel in\n"
	      "the kernel-file format (load it with -k FILE), with the loss and the command\n"
	      "that applies it in its comments.  TARGET may be an 8- or 16-bit image (values\n"
	      "clipped to 0 or 255 are left out) or raw values (PFM, text).\n\n"
	      "Options:\n",
	      fp);
	cli_opt_help(fp, learn_opts, NLEARN);
	fputs("\ngd minimises L = 1/N sum (y - t)^2 by full-batch gradient descent; each shared\n"
	      "weight's gradient is the sum over every position of dL/dy times the input under\n"
	      "it (backpropagation).  It works on intensities divided by s = max |INPUT|, so\n"
	      "one learning rate suits every image: a weight moves by lr/s^2 * dL/dw, the bias\n"
	      "by lr * dL/db.  exact solves the normal equations (HW+1 unknowns) by Cholesky.\n"
	      "\nExamples:\n"
	      "  imfilter -k sharpen photo.png sharp.pfm\n"
	      "  imfilter learn photo.png sharp.pfm                 gd: prints about sharpen\n"
	      "  imfilter learn --solver exact -o k.txt photo.png edited.png\n"
	      "  imfilter learn --size 5x5 -b replicate before.jpg after.jpg\n"
	      "  imfilter learn --explain samples/worked.txt target.txt\n"
	      "\nExit status: 0 success, 1 bad input or I/O failure, 2 usage error (including\n"
	      "a TARGET whose size does not fit the options, and a gd run that diverges).\n",
	      fp);
}

/* ---- progress: one line on a terminal, redrawn at most every 100 ms ---------- */

typedef struct progress {
	int on;
	int len; /* characters now on the line */
	struct timespec last;
} progress;

static void progress_clear(progress *pr)
{
	if (pr->len > 0) {
		fprintf(stderr, "\r%*s\r", pr->len, "");
		fflush(stderr);
		pr->len = 0;
	}
}

static int on_epoch(void *user, size_t epoch, size_t epochs, double loss)
{
	progress *pr = user;
	struct timespec now;
	char line[128];
	int n;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (epoch != 1 && epoch != epochs && cli_seconds_between(&pr->last, &now) < 0.1)
		return 0;
	pr->last = now;
	n = snprintf(line, sizeof line, "imfilter: learn: epoch %zu/%zu  loss %.6g", epoch, epochs,
	             loss);
	if (n < 0)
		return 0;
	fprintf(stderr, "\r%s%*s", line, pr->len > n ? pr->len - n : 0, "");
	fflush(stderr);
	pr->len = n > pr->len ? n : pr->len;
	return 0;
}

/* ---- reading ------------------------------------------------------------------ */

static const char *display_name(const char *path)
{
	return strcmp(path, "-") == 0 ? "<stdin>" : path;
}

/* Read path ("-": stdin) as filtering would; gray: to one luma plane.  Exit status. */
static int read_image(const char *path, const learn_cli *o, int gray, imf_image **out)
{
	imf_read_opts ro;
	imf_error err = { 0 };
	imf_image *img = NULL, *luma = NULL;
	struct stat st;
	FILE *fp = stdin;
	int rc = EXIT_BAD_INPUT;

	*out = NULL;
	if (strcmp(path, "-") != 0) {
		if (!(fp = fopen(path, "rb"))) {
			cli_error(path, "cannot open: %s", strerror(errno));
			return EXIT_BAD_INPUT;
		}
		if (fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) {
			cli_error(path, "is a folder");
			goto done;
		}
	}
	imf_read_opts_default(&ro);
	ro.want_gray = gray;
	ro.limits = o->limits;
	if (imf_read(fp, &ro, &img, &err) != IMF_OK) {
		cli_error(display_name(path), "%s", err.msg);
		goto done;
	}
	if (gray && imf_image_channels(img) > 1) {
		if (imf_image_to_luma(img, &luma, &err) != IMF_OK) {
			cli_error(display_name(path), "%s", err.msg);
			goto done;
		}
		imf_image_free(img);
		img = luma;
	}
	*out = img;
	img = NULL;
	rc = EXIT_OK;
done:
	if (fp != stdin)
		fclose(fp);
	imf_image_free(img);
	return rc;
}

/* Non-zero when path names the same existing file as other. */
static int same_file(const char *path, const char *other)
{
	struct stat a, b;
	if (strcmp(path, "-") == 0 || strcmp(other, "-") == 0)
		return 0;
	return stat(path, &a) == 0 && stat(other, &b) == 0 && S_ISREG(a.st_mode) &&
	       a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* ---- writing ------------------------------------------------------------------ */

/* A file name fit for a one-line comment: control characters become '?'. */
static void clean_name(const char *s, char *buf, size_t len)
{
	size_t i = 0;
	for (; *s && i + 1 < len; s++)
		buf[i++] = (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s;
	buf[i] = '\0';
}


/* The options that reproduce the geometry, as -p/-s/-b/--flip/--channels or chain words. */
static void geometry_words(const learn_cli *o, int chain, char *buf, size_t len)
{
	const imf_conv_params *c = &o->p.conv;
	size_t n = 0;
	char pad[32] = "";

	buf[0] = '\0';
	switch (c->pad_mode) {
	case IMF_PAD_SAME: break;
	case IMF_PAD_VALID: strcpy(pad, "valid"); break;
	case IMF_PAD_FULL: strcpy(pad, "full"); break;
	case IMF_PAD_EXPLICIT: snprintf(pad, sizeof pad, "%zu", c->pad); break;
	}
#define ADD(...)                                                              \
	do {                                                                      \
		int k_ = snprintf(buf + n, len - n, __VA_ARGS__);                     \
		if (k_ > 0 && (size_t)k_ < len - n)                                   \
			n += (size_t)k_;                                                  \
	} while (0)
	if (pad[0])
		ADD(chain ? " pad=%s" : " -p %s", pad);
	if (c->stride != 1)
		ADD(chain ? " stride=%zu" : " -s %zu", c->stride);
	if (c->border != IMF_BORDER_ZERO)
		ADD(chain ? " border=%s" : " -b %s", imf_border_name(c->border));
	if (c->flip)
		ADD(chain ? " flip" : " --flip");
#undef ADD
}

static int write_kernel(FILE *fp, const learn_cli *o, const imf_learn_result *r)
{
	char in[256], tg[256], kname[256], geo[128], cgeo[128], bias[64];
	const char *solver = imf_learn_solver_name(o->p.solver);
	size_t rows, cols, depth = imf_kernel_depth(r->kernel);
	const char *chan = o->channels == CLI_CHANNELS_RGB ? " --channels rgb" : "";

	imf_kernel_dims(r->kernel, &rows, &cols);
	clean_name(display_name(o->input), in, sizeof in);
	clean_name(display_name(o->target), tg, sizeof tg);
	clean_name(o->output ? o->output : "KERNEL.txt", kname, sizeof kname);
	geometry_words(o, 0, geo, sizeof geo);
	geometry_words(o, 1, cgeo, sizeof cgeo);
	imf_number_str(bias, sizeof bias, r->bias == 0 ? 0.0 : r->bias, 0); /* no "-0" */

	fprintf(fp, "# learned from %s -> %s: %zux%zu", in, tg, rows, cols);
	if (depth > 1)
		fprintf(fp, "x%zu", depth);
	fprintf(fp, " kernel (rows x columns), bias %s, mean squared error %.6g\n", bias, r->loss);
	if (o->p.solver == IMF_LEARN_GD) {
		double lr = o->p.lr > 0 ? o->p.lr
		                        : imf_learn_default_lr(o->p.optimizer, rows * cols * depth);
		fprintf(fp, "# solver gd, %s, lr %.6g, %zu epoch%s%s (loss at the start %.6g)\n",
		        imf_learn_optimizer_name(o->p.optimizer), lr, r->epochs,
		        r->epochs == 1 ? "" : "s",
		        r->converged ? ", stopped early: the gradient vanished" : "", r->start_loss);
	} else {
		fprintf(fp, "# solver %s (normal equations, ridge %g)\n", solver, o->p.ridge);
	}
	if (r->condition > COND_WARN)
		fprintf(fp, "# warning: INPUT hardly determines some weights (condition number %.2g): "
		            "kernels far from this one fit almost as well\n",
		        r->condition);
	else if (o->p.solver == IMF_LEARN_GD && !r->converged && r->condition > COND_GD)
		fprintf(fp, "# note: gd converges slowly on this INPUT (condition number %.2g): more "
		            "--epochs, or --solver exact\n",
		        r->condition);
	fprintf(fp, "# fitted %zu target value%s", r->used, r->used == 1 ? "" : "s");
	if (r->masked)
		fprintf(fp, "; %zu saturated value%s (0 or 255) left out", r->masked,
		        r->masked == 1 ? "" : "s");
	fputs("\n", fp);
	/* The kernel file has no bias: a chain's conv stage carries it. */
	if (r->bias != 0)
		fprintf(fp, "# apply with the bias: imfilter%s -e 'conv %s%s bias=%s' INPUT OUTPUT\n",
		        chan, kname, cgeo, bias);
	else
		fprintf(fp, "# apply: imfilter%s -k %s%s INPUT OUTPUT\n", chan, kname, geo);
	return imf_kernel_print(r->kernel, fp);
}

/* ---- the command ---------------------------------------------------------------- */

int cli_learn_main(int argc, char **argv)
{
	learn_cli o;
	imf_image *in = NULL, *tgt = NULL;
	imf_kernel *init = NULL;
	imf_learn_result res = { 0 };
	imf_error err = { 0 };
	cli_output *out = NULL;
	progress pr = { 0 };
	int rc;

	memset(&o, 0, sizeof o);
	imf_learn_params_default(&o.p);
	imf_limits_default(&o.limits);
	o.p.digits = DEFAULT_DIGITS;
	if ((rc = cli_opt_parse(argc, argv, learn_opts, NLEARN, CMD, parse_learn_one, &o)) != EXIT_OK)
		return rc;
	if (o.help) {
		learn_help(stdout);
		goto flush;
	}
	if (o.dump) {
		cli_opt_dump(stdout, learn_opts, NLEARN);
		goto flush;
	}
	if (argc - optind != 2) {
		cli_error(NULL, "learn needs INPUT and TARGET (usage: " CMD " [OPTIONS] INPUT TARGET)");
		return EXIT_USAGE;
	}
	o.input = argv[optind];
	o.target = argv[optind + 1];
	if (strcmp(o.input, "-") == 0 && strcmp(o.target, "-") == 0) {
		cli_error(NULL, "INPUT and TARGET cannot both be standard input");
		return EXIT_USAGE;
	}
	if (o.output && (same_file(o.output, o.input) || same_file(o.output, o.target))) {
		cli_error(o.output, "refusing to overwrite %s with a kernel",
		          same_file(o.output, o.input) ? "the INPUT" : "the TARGET");
		return EXIT_USAGE;
	}
	o.p.conv.limits = o.limits;
	if (o.init) {
		if ((rc = cli_load_kernel(o.init, &o.limits, &init)) != EXIT_OK)
			return rc;
		o.p.init = init;
	}

	cli_output_install_signal_handlers();
	/* The output first: an unwritable destination fails before any work. */
	if ((!o.explain || o.output) && cli_output_open(o.output ? o.output : "-", &out) != 0) {
		rc = EXIT_BAD_INPUT;
		goto done;
	}
	if ((rc = read_image(o.input, &o, o.channels == CLI_CHANNELS_GRAY, &in)) != EXIT_OK ||
	    (rc = read_image(o.target, &o, 0, &tgt)) != EXIT_OK)
		goto done;

	if (o.explain) {
		if (imf_learn_explain(in, tgt, &o.p, stdout, &err) != IMF_OK) {
			rc = err.code == IMF_EINVAL ? EXIT_USAGE : EXIT_BAD_INPUT;
			goto fail;
		}
		if (fflush(stdout) != 0 || ferror(stdout)) {
			if (errno != EPIPE)
				cli_error("<stdout>", "write failed: %s", strerror(errno));
			rc = EXIT_BAD_INPUT;
			goto done;
		}
		if (!out) {
			rc = EXIT_OK;
			goto done;
		}
	}

	pr.on = !o.quiet && o.p.solver == IMF_LEARN_GD && isatty(STDERR_FILENO);
	if (pr.on) {
		o.p.progress = on_epoch;
		o.p.progress_user = &pr;
	}
	if (imf_learn_run(in, tgt, &o.p, &res, &err) != IMF_OK) {
		progress_clear(&pr);
		rc = err.code == IMF_EINVAL ? EXIT_USAGE : EXIT_BAD_INPUT;
		goto fail;
	}
	progress_clear(&pr);
	if (write_kernel(cli_output_file(out), &o, &res) != 0) {
		cli_error(o.output ? o.output : "<stdout>", "write failed: %s", strerror(errno));
		rc = EXIT_BAD_INPUT;
		goto done;
	}
	rc = cli_output_commit(out) == 0 ? EXIT_OK : EXIT_BAD_INPUT;
	out = NULL;
	if (rc == EXIT_OK && o.output && !o.quiet) {
		char line[512];
		snprintf(line, sizeof line, "imfilter: learn: wrote %s: mean squared error %.6g over %zu "
		         "values%s",
		         o.output, res.loss, res.used, res.masked ? " (saturated ones left out)" : "");
		cli_message(line);
	}
	goto done;

fail:
	/* Name the file the message is about. */
	if (strncmp(err.msg, "the target", 10) == 0 || err.code == IMF_EUNSUPPORTED)
		cli_error(display_name(o.target), "%s", err.msg);
	else if (strncmp(err.msg, "the input", 9) == 0)
		cli_error(display_name(o.input), "%s", err.msg);
	else
		cli_error(NULL, "learn: %s", err.msg);
done:
	if (out)
		cli_output_abort(out);
	imf_kernel_free(res.kernel);
	imf_kernel_free(init);
	imf_image_free(in);
	imf_image_free(tgt);
	return rc;
flush:
	if (fflush(stdout) != 0 || ferror(stdout)) {
		if (errno != EPIPE)
			cli_error("<stdout>", "write failed: %s", strerror(errno));
		return EXIT_BAD_INPUT;
	}
	return EXIT_OK;
}
