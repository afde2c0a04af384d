/*
 * output.c - atomic output files.
 *
 * A result is written to a temporary file in the destination's own folder
 * (so rename(2) is atomic), flushed, fsynced, given the permissions a plain
 * fopen would have given it, and renamed over the destination only when
 * everything succeeded.  On failure, or on SIGINT/SIGTERM, the temporary
 * file is removed: an existing output is never truncated or half-written.
 * Standard output ("-") is written directly.
 *
 * The one piece of global state is the pending temporary path, which a
 * signal handler must be able to reach.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct cli_output {
	char *path; /* destination, or NULL for stdout */
	char *tmp;  /* temporary file next to it */
	FILE *fp;
};

/* For the signal handler only: a copy of the pending temporary path. */
static char pending_tmp[4096];
static volatile sig_atomic_t pending_set;

static void on_signal(int sig)
{
	if (pending_set)
		unlink(pending_tmp);
	signal(sig, SIG_DFL);
	raise(sig);
}

void cli_output_install_signal_handlers(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

static void set_pending(const char *tmp)
{
	pending_set = 0;
	if (tmp && strlen(tmp) < sizeof pending_tmp) {
		memcpy(pending_tmp, tmp, strlen(tmp) + 1);
		pending_set = 1;
	}
}

static void output_free(cli_output *o)
{
	if (!o)
		return;
	free(o->path);
	free(o->tmp);
	free(o);
}

int cli_output_open(const char *path, cli_output **out)
{
	cli_output *o = calloc(1, sizeof *o);
	const char *slash, *base;
	size_t dirlen, need;
	mode_t mask;
	int fd = -1;

	*out = NULL;
	if (!o)
		goto nomem;
	if (strcmp(path, "-") == 0) {
		o->fp = stdout;
		*out = o;
		return 0;
	}
	o->path = strdup(path);
	if (!o->path)
		goto nomem;
	slash = strrchr(path, '/');
	base = slash ? slash + 1 : path;
	dirlen = slash ? (size_t)(slash - path) + 1 : 0;
	if (*base == '\0') {
		cli_error(path, "output is a folder, not a file name");
		goto fail;
	}
	/* DIR/.BASE.imfilter-XXXXXX */
	need = dirlen + 1 + strlen(base) + sizeof ".imfilter-XXXXXX";
	o->tmp = malloc(need);
	if (!o->tmp)
		goto nomem;
	snprintf(o->tmp, need, "%.*s.%s.imfilter-XXXXXX", (int)dirlen, path, base);
	fd = mkstemp(o->tmp);
	if (fd < 0) {
		cli_error(path, "cannot create output: %s", strerror(errno));
		goto fail;
	}
	set_pending(o->tmp);
	/* mkstemp makes the file 0600; give it what fopen would have. */
	mask = umask(0);
	umask(mask);
	if (fchmod(fd, 0666 & ~mask) != 0) {
		cli_error(path, "cannot set permissions: %s", strerror(errno));
		goto fail;
	}
	o->fp = fdopen(fd, "wb");
	if (!o->fp) {
		cli_error(path, "cannot open output: %s", strerror(errno));
		goto fail;
	}
	*out = o;
	return 0;

nomem:
	cli_error(path, "out of memory");
fail:
	if (fd >= 0) {
		close(fd);
		unlink(o->tmp);
		set_pending(NULL);
	}
	output_free(o);
	return -1;
}

FILE *cli_output_file(cli_output *o)
{
	return o->fp;
}

int cli_output_commit(cli_output *o)
{
	int rc = -1;

	if (!o->path) {
		if (fflush(stdout) != 0 || ferror(stdout)) {
			if (errno != EPIPE)
				cli_error("<stdout>", "write failed: %s", strerror(errno));
		} else {
			rc = 0;
		}
		output_free(o);
		return rc;
	}
	if (fflush(o->fp) != 0 || ferror(o->fp)) {
		cli_error(o->path, "write failed: %s", strerror(errno));
		goto done;
	}
	if (fsync(fileno(o->fp)) != 0 && errno != EINVAL) {
		cli_error(o->path, "fsync failed: %s", strerror(errno));
		goto done;
	}
	if (fclose(o->fp) != 0) {
		o->fp = NULL;
		cli_error(o->path, "write failed: %s", strerror(errno));
		goto done;
	}
	o->fp = NULL;
	if (rename(o->tmp, o->path) != 0) {
		cli_error(o->path, "cannot rename the output into place: %s", strerror(errno));
		goto done;
	}
	rc = 0;
done:
	if (o->fp)
		fclose(o->fp);
	if (rc != 0)
		unlink(o->tmp);
	set_pending(NULL);
	output_free(o);
	return rc;
}

void cli_output_abort(cli_output *o)
{
	if (!o)
		return;
	if (o->path) {
		if (o->fp)
			fclose(o->fp);
		unlink(o->tmp);
		set_pending(NULL);
	}
	output_free(o);
}
