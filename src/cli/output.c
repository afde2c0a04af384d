/*
 * output.c - atomic output files.
 *
 * A result is written to a temporary file in the destination's own folder
 * (so rename(2) is atomic), flushed, fsynced, given the permissions a plain
 * fopen would have given it, and renamed over the destination only when
 * everything succeeded.  On failure, or on SIGINT/SIGTERM, the temporary
 * file is removed: an existing output is never truncated or half-written.
 * Standard output ("-") is written directly, and so is an existing output
 * that is not a regular file (a FIFO, a device, /dev/stdout): replacing it
 * by a renamed file would break whoever reads it.  A symbolic link is
 * followed: the temporary file goes next to its target, which is replaced,
 * and the link stays.  An existing file keeps its permission bits (and, for
 * root, its owner).
 *
 * The one piece of global state is the pending temporary path, which a
 * signal handler must be able to reach.
 */
/* realpath(3) is X/Open. */
#define _XOPEN_SOURCE 700

#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct cli_output {
	char *path; /* destination (a symlink's target); NULL for stdout */
	char *tmp;  /* temporary file next to it */
	FILE *fp;
	int direct; /* fp is the destination itself (stdout, FIFO, device) */
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
	sigaction(SIGQUIT, &sa, NULL);
	/* Over a file-size limit, let write() fail with EFBIG so cleanup runs. */
	signal(SIGXFSZ, SIG_IGN);
}

static void set_pending(const char *tmp)
{
	pending_set = 0;
	atomic_signal_fence(memory_order_seq_cst);
	if (tmp && strlen(tmp) < sizeof pending_tmp) {
		memcpy(pending_tmp, tmp, strlen(tmp) + 1);
		/* The handler must never see the flag before the whole path. */
		atomic_signal_fence(memory_order_seq_cst);
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

/* Write straight into an existing non-regular file (FIFO, device). */
static int open_direct(cli_output *o, const char *path)
{
	o->path = strdup(path);
	if (!o->path) {
		cli_error(path, "out of memory");
		return -1;
	}
	o->fp = fopen(path, "wb");
	if (!o->fp) {
		cli_error(path, "cannot open output: %s", strerror(errno));
		return -1;
	}
	o->direct = 1;
	return 0;
}

int cli_output_open(const char *path, cli_output **out)
{
	cli_output *o = calloc(1, sizeof *o);
	const char *slash, *base, *dest;
	char *resolved = NULL;
	struct stat st;
	int exists, fd = -1;
	size_t dirlen, need;
	mode_t mode;

	*out = NULL;
	if (!o)
		goto nomem;
	if (strcmp(path, "-") == 0) {
		o->fp = stdout;
		o->direct = 1;
		*out = o;
		return 0;
	}
	exists = stat(path, &st) == 0;
	if (exists && S_ISDIR(st.st_mode)) {
		cli_error(path, "output is a folder, not a file");
		goto fail;
	}
	if (exists && !S_ISREG(st.st_mode)) {
		if (open_direct(o, path) != 0)
			goto fail;
		*out = o;
		return 0;
	}
	if (exists && access(path, W_OK) != 0) {
		cli_error(path, "cannot write output: %s", strerror(errno));
		goto fail;
	}
	/* Follow a symlink so the link survives and its target is replaced. */
	dest = path;
	if (exists) {
		resolved = realpath(path, NULL);
		if (resolved)
			dest = resolved;
	}
	o->path = strdup(dest);
	if (!o->path)
		goto nomem;
	slash = strrchr(dest, '/');
	base = slash ? slash + 1 : dest;
	dirlen = slash ? (size_t)(slash - dest) + 1 : 0;
	if (*base == '\0') {
		cli_error(path, "output is a folder, not a file name");
		goto fail;
	}
	/* DIR/.BASE.imfilter-XXXXXX */
	need = dirlen + 1 + strlen(base) + sizeof ".imfilter-XXXXXX";
	o->tmp = malloc(need);
	if (!o->tmp)
		goto nomem;
	snprintf(o->tmp, need, "%.*s.%s.imfilter-XXXXXX", (int)dirlen, dest, base);
	fd = mkstemp(o->tmp);
	if (fd < 0) {
		cli_error(path, "cannot create output: %s", strerror(errno));
		goto fail;
	}
	set_pending(o->tmp);
	/* mkstemp makes the file 0600: give it the existing file's mode, or fopen's. */
	if (exists) {
		mode = st.st_mode & 07777;
		if (geteuid() == 0 && fchown(fd, st.st_uid, st.st_gid) != 0) {
			cli_error(path, "cannot keep the owner: %s", strerror(errno));
			goto fail;
		}
	} else {
		mode_t mask = umask(0);
		umask(mask);
		mode = 0666 & ~mask;
	}
	if (fchmod(fd, mode) != 0) {
		cli_error(path, "cannot set permissions: %s", strerror(errno));
		goto fail;
	}
	o->fp = fdopen(fd, "wb");
	if (!o->fp) {
		cli_error(path, "cannot open output: %s", strerror(errno));
		goto fail;
	}
	free(resolved);
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
	free(resolved);
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

	if (o->direct) {
		int failed = fflush(o->fp) != 0 || ferror(o->fp);
		int e = errno;
		if (o->fp != stdout && fclose(o->fp) != 0 && !failed) {
			failed = 1;
			e = errno;
		}
		if (failed && e != EPIPE)
			cli_error(o->path ? o->path : "<stdout>", "write failed: %s", strerror(e));
		rc = failed ? -1 : 0;
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
	if (o->direct) {
		if (o->fp && o->fp != stdout)
			fclose(o->fp);
	} else if (o->path) {
		if (o->fp)
			fclose(o->fp);
		unlink(o->tmp);
		set_pending(NULL);
	}
	output_free(o);
}
