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
 * The input itself is never replaced unless --in-place says so: a single
 * run compares OUTPUT with INPUT by device and inode before any work
 * (cli_output_guard_input, exit 2), and cli_output_open then refuses that
 * file under any name (--split's NAME-i.EXT).  A batch plans its own names
 * (batch.c).  With --in-place the input is replaced like any output: the
 * result is renamed over it, so a failed run leaves it as it was.
 *
 * The global state here is what a signal handler must reach: a fixed table
 * of pending temporary paths, one slot per file being written (so one per
 * worker thread), and the stop request of a deferred signal.  A slot is
 * armed before its file is created (open with O_EXCL on a name unique to
 * this process) and disarmed only after the file was renamed or removed, so
 * a handler that runs at any moment, on any thread, removes every temporary
 * file that exists.
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

/* stdio buffer for output files, in bytes. */
#define OUTPUT_BUFFER (256 * 1024)

struct cli_output {
	char *path; /* destination (a symlink's target); NULL for stdout */
	char *tmp;  /* temporary file next to it */
	FILE *fp;
	int direct; /* fp is the destination itself (stdout, FIFO, device) */
	int slot;   /* pending[] slot holding tmp, or -1 */
	char *buf;  /* fp's stdio buffer (OUTPUT_BUFFER bytes), freed after fclose */
};

/*
 * Pending temporary files.  state: 0 free, 1 claimed (path being written,
 * no file yet), 2 armed (the file may exist).  Lock-free atomics are
 * async-signal-safe; the path is written before the release store that arms
 * the slot and read after the handler's acquire load.
 */
#define SLOT_FREE 0
#define SLOT_CLAIMED 1
#define SLOT_ARMED 2
static struct {
	atomic_int state;
	char path[PATH_MAX];
} pending[CLI_MAX_JOBS + 1];

/* The input cli_output_open refuses to replace: set once, before any output is opened. */
static struct {
	int set;
	dev_t dev;
	ino_t ino;
	const char *name;
} guarded;

static atomic_ulong tmp_seq;   /* makes temporary names unique within the process */
static atomic_int defer;       /* batch mode: the first signal only asks to stop */
static atomic_int stop_sig;    /* the signal that asked to stop, or 0 */

static void remove_pending(void)
{
	for (size_t i = 0; i < sizeof pending / sizeof pending[0]; i++)
		if (atomic_load_explicit(&pending[i].state, memory_order_acquire) == SLOT_ARMED)
			unlink(pending[i].path);
}

static void on_signal(int sig)
{
	int e = errno;
	int first = 0;

	/*
	 * Workers see cli_stop_signal() and clean up after themselves.  A
	 * closed pipe raises SIGPIPE at every write: that never escalates.
	 */
	if (atomic_load(&defer) &&
	    (atomic_compare_exchange_strong(&stop_sig, &first, sig) || sig == SIGPIPE)) {
		errno = e;
		return;
	}
	remove_pending();
	cli_progress_signal_clear();
	signal(sig, SIG_DFL);
	raise(sig);
	errno = e;
}

/* Catch sig, unless it was ignored when imfilter started (nohup, a shell's background job). */
static void catch_signal(int sig)
{
	struct sigaction sa, old;

	if (sigaction(sig, NULL, &old) == 0 && old.sa_handler == SIG_IGN)
		return;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(sig, &sa, NULL);
}

void cli_output_install_signal_handlers(void)
{
	catch_signal(SIGINT);
	catch_signal(SIGTERM);
	catch_signal(SIGHUP);
	catch_signal(SIGQUIT);
	/*
	 * A closed pipe ends imfilter quietly by SIGPIPE, as it ends any
	 * filter, but only after removing its temporary files.  When the
	 * parent ignores SIGPIPE, the write fails with EPIPE instead: a quiet
	 * failure, status 1.
	 */
	catch_signal(SIGPIPE);
	/* Over a file-size limit, let write() fail with EFBIG so cleanup runs. */
	signal(SIGXFSZ, SIG_IGN);
}

void cli_signals_defer(void)
{
	atomic_store(&defer, 1);
}

int cli_stop_signal(void)
{
	return atomic_load_explicit(&stop_sig, memory_order_relaxed);
}

void cli_die_by_signal(int sig)
{
	remove_pending();
	signal(sig, SIG_DFL);
	raise(sig);
	/* Not reached for a deadly signal; be sure anyway. */
	_exit(128 + sig);
}

/* A free slot for tmp, claimed; -1 if none (cannot happen with <= CLI_MAX_JOBS writers). */
static int claim_slot(void)
{
	for (size_t i = 0; i < sizeof pending / sizeof pending[0]; i++) {
		int expect = SLOT_FREE;
		if (atomic_compare_exchange_strong(&pending[i].state, &expect, SLOT_CLAIMED))
			return (int)i;
	}
	return -1;
}

static void arm_slot(int slot, const char *tmp)
{
	memcpy(pending[slot].path, tmp, strlen(tmp) + 1);
	atomic_store_explicit(&pending[slot].state, SLOT_ARMED, memory_order_release);
}

static void release_slot(int slot)
{
	if (slot >= 0)
		atomic_store_explicit(&pending[slot].state, SLOT_FREE, memory_order_release);
}

static void output_free(cli_output *o)
{
	if (!o)
		return;
	free(o->path);
	free(o->tmp);
	free(o->buf);
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

/*
 * Create DIR/.BASE.imfilter-PID-N for dest (dirlen: length of "DIR/"),
 * mode 0600, never an existing file; its slot is armed before it exists.
 * Returns the descriptor, or -1 with errno set.
 */
static int create_tmp(cli_output *o, const char *dest, size_t dirlen, const char *base)
{
	size_t need = dirlen + 1 + strlen(base) + sizeof ".imfilter--" + 2 * 3 * sizeof(long);

	if (need > sizeof pending[0].path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	o->tmp = malloc(need);
	if (!o->tmp) {
		errno = ENOMEM;
		return -1;
	}
	o->slot = claim_slot();
	if (o->slot < 0) {
		errno = EMFILE;
		return -1;
	}
	/* Only a stale file of a dead process with our pid can be in the way. */
	for (int tries = 0; tries < 100; tries++) {
		int fd;
		snprintf(o->tmp, need, "%.*s.%s.imfilter-%ld-%lu", (int)dirlen, dest, base,
		         (long)getpid(), (unsigned long)atomic_fetch_add(&tmp_seq, 1));
		arm_slot(o->slot, o->tmp);
		fd = open(o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0)
			return fd;
		/* Disarm first: the name may belong to someone else. */
		atomic_store(&pending[o->slot].state, SLOT_CLAIMED);
		if (errno != EEXIST)
			break;
	}
	{
		int e = errno;
		release_slot(o->slot);
		o->slot = -1;
		errno = e;
	}
	return -1;
}

/* Is path ("-" is not) an existing regular file?  Its identity in *st. */
static int regular_file(const char *path, struct stat *st)
{
	return strcmp(path, "-") != 0 && stat(path, st) == 0 && S_ISREG(st->st_mode);
}

static void refuse_input(const char *name)
{
	cli_error(NULL, "refusing to overwrite the input %s (give --in-place to replace it)", name);
}

int cli_output_guard_input(const cli_opts *o)
{
	struct stat in, out;

	if (o->in_place || !regular_file(o->input, &in))
		return EXIT_OK;
	guarded.dev = in.st_dev;
	guarded.ino = in.st_ino;
	guarded.name = o->input;
	guarded.set = 1;
	/* --split writes NAME-i.EXT, never OUTPUT itself: cli_output_open checks those. */
	if (o->output_given && !o->split && regular_file(o->output, &out) &&
	    out.st_dev == in.st_dev && out.st_ino == in.st_ino) {
		refuse_input(o->input);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

int cli_output_open(const char *path, cli_output **out)
{
	cli_output *o = calloc(1, sizeof *o);
	const char *slash, *base, *dest;
	char *resolved = NULL;
	struct stat st;
	int exists, fd = -1;
	size_t dirlen;
	mode_t mode;

	*out = NULL;
	if (!o)
		goto nomem;
	o->slot = -1;
	if (strcmp(path, "-") == 0) {
		o->fp = stdout;
		o->direct = 1;
		*out = o;
		return 0;
	}
	exists = stat(path, &st) == 0;
	if (exists && S_ISREG(st.st_mode) && guarded.set && st.st_dev == guarded.dev &&
	    st.st_ino == guarded.ino) {
		refuse_input(guarded.name);
		goto fail;
	}
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
	fd = create_tmp(o, dest, dirlen, base);
	if (fd < 0) {
		cli_error(path, "cannot create output: %s", strerror(errno));
		goto fail;
	}
	/* The file is 0600: give it the existing file's mode, or fopen's. */
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
	/*
	 * Writers hand over a row at a time: a larger buffer than stdio's
	 * default (often 4 KiB) saves thousands of write calls on a big image.
	 * (glibc ignores the size unless it is given the buffer.)  Without it
 * stdio's own buffer still works, so a failure is harmless.
	 */
	if ((o->buf = malloc(OUTPUT_BUFFER)) != NULL &&
	    setvbuf(o->fp, o->buf, _IOFBF, OUTPUT_BUFFER) != 0) {
		free(o->buf);
		o->buf = NULL;
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
	}
	if (o)
		release_slot(o->slot);
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
		/* A reader that went away (EPIPE) is a quiet failure. */
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
	release_slot(o->slot);
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
		release_slot(o->slot);
	}
	output_free(o);
}
