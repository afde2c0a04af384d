/*
 * cli.h - the command-line front end's internal interface.
 *
 * The CLI is a thin client of the library (imfilter.h): options.c turns argv
 * into a struct cli_opts from one option table (which also writes --help),
 * run.c takes one file through read -> filter -> write (emit.c writes the
 * result, output.c atomically), main.c runs one file or hands a batch (-O DIR)
 * to batch.c, which spreads the files over worker threads; progress.c owns
 * the terminal's progress bar and every line printed on stderr.  learn.c is
 * the 'imfilter learn' subcommand, with its own option table.
 */
#ifndef IMF_CLI_H
#define IMF_CLI_H

#include "imfilter.h"

#include <pthread.h>
#include <time.h>

/* Exit statuses, as documented in --help and README. */
enum { EXIT_OK = 0, EXIT_BAD_INPUT = 1, EXIT_USAGE = 2 };

/* Most worker threads (-j) and so most temporary files pending at once. */
#define CLI_MAX_JOBS 256

typedef enum cli_channels { CLI_CHANNELS_GRAY = 0, CLI_CHANNELS_RGB } cli_channels;
typedef enum cli_stats { CLI_STATS_NONE = 0, CLI_STATS_TEXT, CLI_STATS_JSON } cli_stats;

typedef struct cli_opts {
	const char *kernel;      /* -k SPEC */
	const char *chain;       /* -e STAGES */
	int dry_run;             /* --dry-run */
	int explain;             /* --explain */
	int split;               /* --split */
	size_t tile_cols, tile_rows; /* --tile COLSxROWS (0: automatic) */
	size_t shape[3];         /* --shape WxHxC; shape[0] == 0 when not given */
	imf_conv_params conv;    /* -p -b -s --flip */
	cli_channels channels;   /* --channels */
	const char *input;       /* "-" for stdin */
	const char *output;      /* "-" for stdout */
	int output_given;        /* OUTPUT or -o was given */
	imf_format format;       /* -f, or UNKNOWN */
	imf_write_opts write;    /* -m -q --depth */
	cli_stats stats;         /* --stats[=json] */
	imf_limits limits;       /* --max-pixels, --max-side, --max-kernel */
	int in_place;            /* --in-place: OUTPUT may be (or is) the INPUT file */
	int list_kernels;        /* --list-kernels */
	const char *show_kernel; /* --show-kernel NAME */
	int help, version;
	int dump_options;        /* --dump-options (hidden): the option table for the man page */

	/* Batch mode: -O DIR with INPUT... and/or --files-from. */
	const char *out_dir;     /* -O DIR; NULL in single-file mode */
	char *const *inputs;     /* the INPUT arguments (argv) with -O */
	size_t ninputs;
	const char *files_from;  /* -@ FILE ("-": stdin) */
	const char *suffix;      /* --suffix TEXT */
	size_t jobs;             /* -j N; 0: online CPUs */
	int quiet, verbose;      /* --quiet, --verbose */
	int batch;               /* set per file by batch.c: messages name the file */
} cli_opts;

/*
 * One entry of an option table: getopt_long's array, the short-option
 * string, the --help list and the --dump-options listing (from which the man
 * page's lists are generated) come from one table, options.c's for
 * filtering and learn.c's for 'imfilter learn'.
 */
typedef struct cli_opt_def {
	const char *name;
	int has_arg; /* no_argument, required_argument, optional_argument */
	int val;     /* short option character, or a value >= 256 */
	const char *arg;
	const char *help; /* NULL: hidden from --help and --dump-options */
} cli_opt_def;

/* The --help lines of a table: "  -k, --kernel SPEC          help". */
void cli_opt_help(FILE *fp, const cli_opt_def *t, size_t n);
/* --dump-options: one line per visible option, SHORT\tLONG\tARG\tHELP. */
void cli_opt_dump(FILE *fp, const cli_opt_def *t, size_t n);
/*
 * getopt_long over a table, from argv[1]: one(c, optarg, ctx) for each
 * option (non-zero: it reported a usage error).  Unknown options and missing
 * or unexpected values are reported in one line ("... (see CMD --help)").
 * Returns EXIT_OK with optind at the first operand, else the exit status.
 */
int cli_opt_parse(int argc, char **argv, const cli_opt_def *t, size_t n, const char *cmd,
                  int (*one)(int c, const char *arg, void *ctx), void *ctx);
/* Option values, as filtering parses them; -1 after reporting a bad one. */
int cli_parse_uint(const char *opt, const char *s, unsigned long lo, unsigned long hi,
                   size_t *out);
int cli_parse_pad(const char *s, imf_conv_params *p); /* same, valid, full, N */
int cli_parse_size(const char *opt, const char *s, size_t *out); /* 512M, 2G, 0 */
int cli_parse_channels(const char *s, cli_channels *out);

/*
 * Parse argv.  Returns EXIT_OK, or EXIT_USAGE after printing one line
 * "imfilter: ..." on stderr.
 */
int cli_parse(int argc, char **argv, cli_opts *o);
void cli_help(FILE *fp);
/* --dump-options: one line per visible option, SHORT\tLONG\tARG\tHELP. */
void cli_dump_options(FILE *fp);

/*
 * Print "imfilter: <fmt...>" (or "<who>: ..." when who is not NULL) on stderr,
 * as one line written at once (worker threads never interleave), clearing
 * and redrawing the progress bar around it.
 */
void cli_error(const char *who, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;

/* ---- run.c: one file ------------------------------------------------------ */

/*
 * Parse -k SPEC within lim (--max-kernel); a bad spec is a usage error (2),
 * an unreadable file 1; reported.
 */
int cli_load_kernel(const char *spec, const imf_limits *lim, imf_kernel **k);

/*
 * The chain to run: -e STAGES, or the one convolution of -k/-p/-s/-b.
 * Usage errors (exit 2) are reported here, before any input is read.
 */
int cli_build_chain(const cli_opts *o, imf_chain **chain);
/* -j N, or cli_cpu_count(): a batch's worker threads, or one file's band threads. */
size_t cli_thread_count(const cli_opts *o);

/*
 * The CPUs this process may run on: those in its affinity mask where the
 * system says (Linux), else the online CPUs; at least 1.
 */
size_t cli_cpu_count(void);
/*
 * Workers off each other's CPU as they start (cpus.c says why).
 * cli_cpu_current: the calling thread's CPU, -1 if unknown.
 * cli_cpu_claim: where a worker on CPU here should run, given the CPUs
 * taken[0..n) by workers already running: here if it is free (or unknown,
 * -1), else the lowest CPU of the process's mask that is free, else here.
 * cli_cpu_pick: the same over an explicit mask allowed[0..ncpus).
 * cli_cpu_move: move the calling thread to cpu now, leaving its mask as it
 * was; 1 if it moved (0: not allowed, or not possible here).
 * cli_thread_start_on: pthread_create, the thread starting on cpu (when it
 * is in the caller's mask and this system allows it) and then running with
 * the caller's mask, so that it is not queued behind its creator; 0 or
 * pthread_create's error.  *bound says whether it was started on cpu (0: a
 * plain start, wherever the scheduler puts it).
 * cli_cpu_pause: a spinning thread's breath (x86's pause; else nothing).
 */
int cli_cpu_current(void);
int cli_cpu_claim(int here, const int *taken, size_t n);
int cli_cpu_pick(int here, const int *taken, size_t n, const unsigned char *allowed,
                 size_t ncpus);
int cli_cpu_move(int cpu);
int cli_thread_start_on(pthread_t *tid, void *(*fn)(void *), void *arg, int cpu, int *bound);
void cli_cpu_pause(void);
/* Open o->input ("-": stdin); NULL after reporting why (a folder is refused). */
FILE *cli_open_input(const cli_opts *o);
void cli_read_opts(const cli_opts *o, imf_read_opts *ropts);
/*
 * Take o->input through the chain to o->output (read, luma, --explain,
 * filter, --stats, write).  The chain is only read, so worker threads share
 * one.  Returns an exit status after reporting any error in one line.
 */
int cli_run_file(const cli_opts *o, const imf_chain *chain);

/* ---- stream.c: one convolution in bands ------------------------------------ */
/*
 * Run the convolution k/p over the image r is reading, band by band, to
 * o->output as fmt.  Sets *fallback (and reads nothing more) when this
 * convolution needs the whole image (a wrap border with padding); otherwise
 * returns an exit status after reporting any error in one line.
 */
int cli_stream_file(const cli_opts *o, const imf_kernel *k, const imf_conv_params *p,
                    imf_reader *r, imf_format fmt, int *fallback);

/* ---- learn.c: imfilter learn INPUT TARGET --------------------------------- */

/* 'imfilter learn ARGS...' (argv[0] is "learn"); returns the exit status. */
int cli_learn_main(int argc, char **argv);

/* ---- batch.c: -O DIR INPUT... --------------------------------------------- */

/* Run a batch; returns the exit status (1 if any file failed). */
int cli_batch(const cli_opts *o, const imf_chain *chain);

/* ---- progress.c: stderr ---------------------------------------------------- */

/*
 * Every line imfilter prints on stderr goes through cli_message, which
 * writes it at once and keeps the progress bar (if one is shown) below it.
 */
void cli_message(const char *line);

typedef struct cli_progress cli_progress;
/*
 * A progress bar for total files, or NULL when none is wanted: stderr is not
 * a terminal, or quiet.  Freeing NULL (cli_progress_end) is a no-op.
 */
cli_progress *cli_progress_start(size_t total, int quiet);
/* One more file done (written or failed): redraw, at most every 100 ms. */
void cli_progress_step(cli_progress *p);
/* Clear the bar from the terminal and free it. */
void cli_progress_end(cli_progress *p);
/* From a signal handler: blank the bar's line (async-signal-safe). */
void cli_progress_signal_clear(void);
/* Seconds from a to b (CLOCK_MONOTONIC readings). */
double cli_seconds_between(const struct timespec *a, const struct timespec *b);

/*
 * Write a result to o->output as fmt: one image, feature maps tiled into one
 * image (text keeps them as blocks), or with --split one file per map.
 * Returns an exit status.
 */
int cli_emit(const cli_opts *o, const imf_image *res, imf_format fmt);

/*
 * Atomic output.  cli_output_open creates a temporary file next to path
 * ("-" means stdout, written directly); cli_output_commit flushes, fsyncs
 * and renames it over path; cli_output_abort removes it.  A failed run
 * therefore never leaves a partial file or truncates an existing one.
 */
typedef struct cli_output cli_output;
int cli_output_open(const char *path, cli_output **out);
/*
 * Single-file mode, before any work: refuse (exit 2, one line "refusing to
 * overwrite the input photo.png (give --in-place to replace it)") an OUTPUT
 * that is the INPUT file itself: the same device and inode, so "./a.png",
 * "a.png", a symlink and a hard link are all caught.  Standard input and
 * output and files that are not regular files are never the same file.
 * Unless --in-place was given, it also makes cli_output_open refuse that
 * file later (--split's NAME-i.EXT), with exit 1.  Returns an exit status.
 */
int cli_output_guard_input(const cli_opts *o);
FILE *cli_output_file(cli_output *o);
int cli_output_commit(cli_output *o);
void cli_output_abort(cli_output *o);

/*
 * Signals.  On SIGINT, SIGTERM, SIGHUP, SIGQUIT and SIGPIPE (those not
 * ignored when imfilter started) every pending temporary file is removed
 * and imfilter dies by the signal (status 128+N to the shell: 130 for
 * Ctrl-C).  After cli_signals_defer (batch mode) the first signal only asks
 * to stop: cli_stop_signal() returns it, workers abandon their file through
 * the usual cleanup, and the caller ends with cli_die_by_signal; a second
 * signal removes the temporary files and dies at once.
 */
void cli_output_install_signal_handlers(void);
void cli_signals_defer(void);
int cli_stop_signal(void);
void cli_die_by_signal(int sig);

#endif
