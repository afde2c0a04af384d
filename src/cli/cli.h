/*
 * cli.h - the command-line front end's internal interface.
 *
 * The CLI is a thin client of the library (imfilter.h): options.c turns argv
 * into a struct cli_opts from one option table (which also writes --help),
 * output.c writes results atomically, main.c runs read -> filter -> write.
 */
#ifndef IMF_CLI_H
#define IMF_CLI_H

#include "imfilter.h"

/* Exit statuses, as documented in --help and README. */
enum { EXIT_OK = 0, EXIT_BAD_INPUT = 1, EXIT_USAGE = 2 };

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
	imf_limits limits;       /* --max-pixels, --max-side */
	int list_kernels;        /* --list-kernels */
	const char *show_kernel; /* --show-kernel NAME */
	int help, version;
} cli_opts;

/*
 * Parse argv.  Returns EXIT_OK, or EXIT_USAGE after printing one line
 * "imfilter: ..." on stderr.
 */
int cli_parse(int argc, char **argv, cli_opts *o);
void cli_help(FILE *fp);

/* Print "imfilter: <fmt...>" (or "<who>: ..." when who is not NULL) on stderr. */
void cli_error(const char *who, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;

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
FILE *cli_output_file(cli_output *o);
int cli_output_commit(cli_output *o);
void cli_output_abort(cli_output *o);
/* Remove any pending temporary file on SIGINT/SIGTERM, then die by the signal. */
void cli_output_install_signal_handlers(void);

#endif
