/*
 * runstat.c - run one command; report its wall time, peak memory, CPU time.
 *
 *   runstat [-t SECONDS] [-o FILE] [--] COMMAND [ARG...]
 *
 * Prints one line, "WALL_MS MAXRSS_KB STATUS CPU_MS", to FILE (appended) or
 * to standard output, where STATUS is the command's exit status, "sig:N" when
 * a signal ended it, or "timeout" when it ran longer than SECONDS and was
 * killed.  The command's own standard output and error are left alone, so a
 * caller can redirect them without mixing them with the result.
 *
 * Wall time is CLOCK_MONOTONIC from just before fork() to just after the
 * child is reaped; peak memory is the child's ru_maxrss as wait4() reports
 * it (kilobytes on Linux); CPU time is the child's user plus system time,
 * all its threads together, from the same wait4().  This is what
 * /usr/bin/time -f "%e %M %U %S" measures, without needing that package.
 * The child runs in its own process group so that a timeout also kills
 * anything it started.
 *
 * Exit status: 0 when the result line was written (whatever the command's
 * status), 2 on a usage error, 1 when the command could not be run at all.
 */
#define _DEFAULT_SOURCE /* wait4 */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t timed_out;
static volatile pid_t child;

/* Kill from the handler itself: no window in which the alarm could be lost. */
static void on_alarm(int sig)
{
	(void)sig;
	timed_out = 1;
	kill(-child, SIGKILL);
}

static double now_ms(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
		perror("runstat: clock_gettime");
		exit(1);
	}
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void usage(void)
{
	fprintf(stderr, "usage: runstat [-t SECONDS] [-o FILE] [--] COMMAND [ARG...]\n");
	exit(2);
}

/* User plus system time of a reaped child, in milliseconds. */
static double cpu_ms(const struct rusage *ru)
{
	return (double)(ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) * 1e3 +
	       (double)(ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) / 1e3;
}

int main(int argc, char **argv)
{
	const char *outpath = NULL;
	unsigned long timeout = 0;
	struct sigaction sa;
	struct rusage ru;
	char status[32];
	double t0, t1;
	pid_t pid, got;
	FILE *out = stdout;
	int i, ws;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else if (strcmp(argv[i], "-t") == 0 && i + 1 < argc) {
			char *end;
			errno = 0;
			timeout = strtoul(argv[++i], &end, 10);
			if (errno || *end || end == argv[i] || timeout > 86400)
				usage();
		} else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
			outpath = argv[++i];
		} else if (argv[i][0] == '-') {
			usage();
		} else {
			break;
		}
	}
	if (i >= argc)
		usage();

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm; /* no SA_RESTART: wait4 must return EINTR */
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) != 0) {
		perror("runstat: sigaction");
		return 1;
	}

	t0 = now_ms();
	pid = fork();
	if (pid < 0) {
		perror("runstat: fork");
		return 1;
	}
	if (pid == 0) {
		setpgid(0, 0);
		execvp(argv[i], argv + i);
		fprintf(stderr, "runstat: %s: %s\n", argv[i], strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid); /* also from here, so the group exists before any kill */
	child = pid;
	if (timeout)
		alarm((unsigned)timeout);
	for (;;) {
		got = wait4(pid, &ws, 0, &ru);
		if (got == pid)
			break;
		if (got < 0 && errno == EINTR)
			continue;
		perror("runstat: wait4");
		return 1;
	}
	t1 = now_ms();
	alarm(0);

	if (timed_out)
		snprintf(status, sizeof status, "timeout");
	else if (WIFEXITED(ws))
		snprintf(status, sizeof status, "%d", WEXITSTATUS(ws));
	else if (WIFSIGNALED(ws))
		snprintf(status, sizeof status, "sig:%d", WTERMSIG(ws));
	else
		snprintf(status, sizeof status, "unknown");

	if (outpath) {
		out = fopen(outpath, "a");
		if (!out) {
			fprintf(stderr, "runstat: %s: %s\n", outpath, strerror(errno));
			return 1;
		}
	}
	if (fprintf(out, "%.1f %ld %s %.1f\n", t1 - t0, (long)ru.ru_maxrss, status,
	            cpu_ms(&ru)) < 0 ||
	    (out == stdout ? fflush(out) : fclose(out)) != 0) {
		fprintf(stderr, "runstat: %s: write failed\n", outpath ? outpath : "<stdout>");
		return 1;
	}
	return 0;
}
