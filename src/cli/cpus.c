/*
 * cpus.c - how many CPUs this process may use: -j's default.
 *
 * A process confined to some CPUs (taskset, a container's cpuset) runs
 * no faster with more threads than it has CPUs, so the count is that of
 * its affinity mask, as nproc counts it; where that cannot be read (not
 * Linux, or more CPUs than a cpu_set_t holds) it is the online CPUs.
 */
#if defined(__linux__)
#define _GNU_SOURCE
#include <sched.h>
#endif

#include "cli.h"

#include <unistd.h>

size_t cli_cpu_count(void)
{
#if defined(__linux__) && defined(CPU_COUNT)
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
		return (size_t)CPU_COUNT(&set);
#endif
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	return cpus > 0 ? (size_t)cpus : 1;
}
