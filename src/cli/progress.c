/*
 * progress.c - stderr: whole lines, and a progress bar below them.
 *
 * In a batch, worker threads report errors (and --verbose lines) while the
 * main thread may be drawing a progress bar on the same terminal line.  So
 * every line imfilter prints on stderr goes through cli_message, which holds
 * one lock, blanks the bar, writes the line in a single call, and draws the
 * bar again; lines never interleave and the bar never ends up mid-line.
 *
 * The bar is drawn only on a terminal (the caller decides for --quiet):
 *
 *   imfilter: [#######.............]   37/200  12.3 files/s  ETA 0:13
 *
 * redrawn in place with \r at most every 100 ms (and for the last file),
 * and blanked when the batch ends.  The one bar that can exist is global
 * state by nature (there is one stderr); its length is also kept in an
 * atomic so a signal handler can blank it without the lock.
 */
#include "cli.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BAR_WIDTH 20
#define REDRAW_NS 100000000L /* 100 ms */

struct cli_progress {
	size_t total, done;
	struct timespec start, last;
	int drawn; /* the bar has been drawn at least once */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static cli_progress *shown;      /* the bar on the terminal, under lock */
static atomic_int shown_len;     /* characters of the bar now on the line */

double cli_seconds_between(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

/* "1:05:09", "3:07": at least minutes and seconds. */
static void format_eta(double s, char *buf, size_t len)
{
	unsigned long t = (unsigned long)(s + 0.5);
	if (t >= 3600)
		snprintf(buf, len, "%lu:%02lu:%02lu", t / 3600, t / 60 % 60, t % 60);
	else
		snprintf(buf, len, "%lu:%02lu", t / 60, t % 60);
}

/* Overwrite the bar with spaces and go back to the start of the line (lock held). */
static void blank(void)
{
	char buf[128];
	int n = atomic_load(&shown_len);

	if (n <= 0)
		return;
	if ((size_t)n > sizeof buf - 2)
		n = (int)sizeof buf - 2;
	buf[0] = '\r';
	memset(buf + 1, ' ', (size_t)n);
	buf[n + 1] = '\r';
	fwrite(buf, 1, (size_t)n + 2, stderr);
	atomic_store(&shown_len, 0);
}

/* Draw the bar of p (lock held). */
static void draw(cli_progress *p)
{
	struct timespec now;
	char line[128], bar[BAR_WIDTH + 1], eta[32] = "--:--", rate[32] = "  - files/s";
	size_t fill = p->total ? p->done * BAR_WIDTH / p->total : BAR_WIDTH;
	double elapsed;
	int n;

	clock_gettime(CLOCK_MONOTONIC, &now);
	elapsed = cli_seconds_between(&p->start, &now);
	memset(bar, '#', fill);
	memset(bar + fill, '.', BAR_WIDTH - fill);
	bar[BAR_WIDTH] = '\0';
	if (p->done > 0 && elapsed > 0) {
		double r = (double)p->done / elapsed;
		snprintf(rate, sizeof rate, "%.1f files/s", r);
		format_eta((double)(p->total - p->done) / r, eta, sizeof eta);
	}
	n = snprintf(line, sizeof line, "\rimfilter: [%s] %4zu/%zu  %s  ETA %s", bar, p->done,
	             p->total, rate, eta);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof line)
		n = (int)sizeof line - 1;
	/* Cover what is left of a longer bar. */
	while (n - 1 < atomic_load(&shown_len) && (size_t)n < sizeof line - 1)
		line[n++] = ' ';
	fwrite(line, 1, (size_t)n, stderr);
	fflush(stderr);
	atomic_store(&shown_len, n - 1);
	p->last = now;
	p->drawn = 1;
}

void cli_message(const char *line)
{
	size_t len = strlen(line);
	char *buf = malloc(len + 2);

	pthread_mutex_lock(&lock);
	blank();
	/* One write for the whole line, so nothing can land in its middle. */
	if (buf) {
		memcpy(buf, line, len);
		buf[len] = '\n';
		fwrite(buf, 1, len + 1, stderr);
	} else {
		fputs(line, stderr);
		fputc('\n', stderr);
	}
	if (shown && shown->drawn)
		draw(shown);
	pthread_mutex_unlock(&lock);
	free(buf);
}

cli_progress *cli_progress_start(size_t total, int quiet)
{
	cli_progress *p;

	if (quiet || !isatty(STDERR_FILENO))
		return NULL;
	p = calloc(1, sizeof *p);
	if (!p)
		return NULL; /* no bar is no error */
	p->total = total;
	clock_gettime(CLOCK_MONOTONIC, &p->start);
	pthread_mutex_lock(&lock);
	shown = p;
	draw(p);
	pthread_mutex_unlock(&lock);
	return p;
}

void cli_progress_step(cli_progress *p)
{
	struct timespec now;

	if (!p)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&lock);
	p->done++;
	if (p->done == p->total || cli_seconds_between(&p->last, &now) * 1e9 >= REDRAW_NS)
		draw(p);
	pthread_mutex_unlock(&lock);
}

void cli_progress_end(cli_progress *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&lock);
	blank();
	fflush(stderr);
	shown = NULL;
	pthread_mutex_unlock(&lock);
	free(p);
}

void cli_progress_signal_clear(void)
{
	static const char spaces[] = "\r                                                            "
	                             "                                                            \r";
	int n = atomic_load(&shown_len);

	if (n <= 0)
		return;
	if ((size_t)n > sizeof spaces - 3)
		n = (int)sizeof spaces - 3;
	/* write(2) is async-signal-safe; stdio is not. */
	if (write(STDERR_FILENO, spaces, (size_t)n + 1) < 0 ||
	    write(STDERR_FILENO, "\r", 1) < 0)
		return;
}
