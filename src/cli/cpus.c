/*
 * cpus.c - the CPUs this process may use: -j's default, and keeping a
 * file's workers off each other's CPU as they start.
 *
 * A process confined to some CPUs (taskset, a container's cpuset) runs
 * no faster with more threads than it has CPUs, so the count is that of
 * its affinity mask (nproc's count, OMP_ variables aside); where that
 * cannot be read (not Linux, or more CPUs than a cpu_set_t holds) it is
 * the online CPUs.
 *
 * A thread that is woken, or only just created, may be queued on the CPU
 * of the thread that woke or made it, while another CPU idles, until the
 * scheduler next balances the load: on a 2-CPU virtual machine whose kernel
 * packs threads onto fewer CPUs, in about a quarter to a half of the runs,
 * 1 to 5 ms late (a tenth of a 4096x4096 PGM's run).  So a file's workers
 * are started each on a free CPU (cli_thread_start_on: created bound to it,
 * unbound as its first act, so the scheduler stays free to place it
 * later); one that must be woken later says where it runs, and if that CPU
 * is taken moves to a free one (cli_cpu_move: bound there, which moves it
 * at once, about 0.1 ms, then unbound at once).  Binding workers for the
 * whole run was measured too, and was slower.
 */
#if defined(__linux__)
#define _GNU_SOURCE
#include <sched.h>
#endif

#include "cli.h"

#include <stdlib.h>
#include <unistd.h>

#if defined(__linux__) && defined(CPU_COUNT)
#define HAVE_AFFINITY 1
#endif

size_t cli_cpu_count(void)
{
#ifdef HAVE_AFFINITY
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
		return (size_t)CPU_COUNT(&set);
#endif
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	return cpus > 0 ? (size_t)cpus : 1;
}

int cli_cpu_current(void)
{
#ifdef HAVE_AFFINITY
	return sched_getcpu();
#else
	return -1;
#endif
}

int cli_cpu_pick(int here, const int *taken, size_t n, const unsigned char *allowed,
                 size_t ncpus)
{
	int busy = 0;
	if (here < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		busy |= taken[i] == here;
	if (!busy)
		return here;
	for (size_t c = 0; c < ncpus; c++) {
		int vacant = allowed[c];
		for (size_t i = 0; i < n && vacant; i++)
			vacant = taken[i] != (int)c;
		if (vacant)
			return (int)c;
	}
	return here; /* every allowed CPU has a worker: stay */
}

int cli_cpu_claim(int here, const int *taken, size_t n)
{
#ifdef HAVE_AFFINITY
	cpu_set_t set;
	unsigned char allowed[CPU_SETSIZE];
	if (here < 0 || sched_getaffinity(0, sizeof set, &set) != 0)
		return here;
	for (int c = 0; c < CPU_SETSIZE; c++)
		allowed[c] = CPU_ISSET(c, &set) != 0;
	return cli_cpu_pick(here, taken, n, allowed, CPU_SETSIZE);
#else
	(void)taken;
	(void)n;
	return here;
#endif
}

int cli_cpu_move(int cpu)
{
#ifdef HAVE_AFFINITY
	cpu_set_t all, one;
	int moved;
	if (cpu < 0 || cpu >= CPU_SETSIZE || sched_getaffinity(0, sizeof all, &all) != 0 ||
	    !CPU_ISSET(cpu, &all))
		return 0;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	moved = sched_setaffinity(0, sizeof one, &one) == 0;
	/* Unbound at once: only the move was wanted (failing, it stays bound: only slower). */
	(void)sched_setaffinity(0, sizeof all, &all);
	return moved;
#else
	(void)cpu;
	return 0;
#endif
}

void cli_cpu_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

#ifdef HAVE_AFFINITY
/* What a thread started on a CPU runs: unbind, then the caller's function. */
typedef struct start_on {
	void *(*fn)(void *);
	void *arg;
	cpu_set_t mask; /* the creator's, given back at once */
} start_on;

static void *start_on_main(void *p)
{
	start_on s = *(start_on *)p;
	free(p);
	/* Failing, it stays bound to its CPU: only slower. */
	(void)sched_setaffinity(0, sizeof s.mask, &s.mask);
	return s.fn(s.arg);
}
#endif

int cli_thread_start_on(pthread_t *tid, void *(*fn)(void *), void *arg, int cpu, int *bound)
{
#ifdef HAVE_AFFINITY
	start_on *s;
	pthread_attr_t attr;
	cpu_set_t one;
	int rc = -1;

	*bound = 0;
	if (cpu >= 0 && cpu < CPU_SETSIZE && (s = malloc(sizeof *s)) != NULL) {
		s->fn = fn;
		s->arg = arg;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		if (sched_getaffinity(0, sizeof s->mask, &s->mask) == 0 && CPU_ISSET(cpu, &s->mask) &&
		    pthread_attr_init(&attr) == 0) {
			if (pthread_attr_setaffinity_np(&attr, sizeof one, &one) == 0)
				rc = pthread_create(tid, &attr, start_on_main, s);
			(void)pthread_attr_destroy(&attr);
		}
		if (rc == 0) {
			*bound = 1;
			return 0;
		}
		free(s);
	}
#else
	(void)cpu;
	*bound = 0;
#endif
	return pthread_create(tid, NULL, fn, arg);
}
