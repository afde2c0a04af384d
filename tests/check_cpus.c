/*
 * check_cpus.c - the CLI's CPU helpers (src/cli/cpus.c, linked in alone):
 * -j's default count, and the choice and move that keep a file's workers
 * off each other's CPU as they start.
 *
 * The choice is a pure function of the CPU a worker is on, the CPUs taken
 * and the mask, checked on made-up masks; the count, the move and a thread
 * started on a CPU against the process's real affinity mask (Linux), which
 * must come back as it was.
 * Where sched_getcpu is missing or masks cannot be changed, those parts
 * stop early (the code under test then moves nothing either).
 */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */

#include "testutil.h"

#include "cli/cli.h"

#include <pthread.h>

#if defined(__linux__)
#include <sched.h>
#endif

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

START_TEST(pick_free_cpu)
{
	/* CPUs 0, 1, 2 and 4 allowed; 3 not. */
	static const unsigned char allowed[] = { 1, 1, 1, 0, 1, 0 };
	const int none[1] = { 0 };
	const int t01[] = { 0, 1 }, t0[] = { 0 }, t012[] = { 0, 1, 2 }, t0124[] = { 0, 1, 2, 4 };
	const int t3[] = { 3 };

	ck_assert_int_eq(cli_cpu_pick(2, none, 0, allowed, COUNT(allowed)), 2);
	ck_assert_int_eq(cli_cpu_pick(2, t01, COUNT(t01), allowed, COUNT(allowed)), 2);
	/* Taken: the lowest free allowed CPU. */
	ck_assert_int_eq(cli_cpu_pick(0, t0, COUNT(t0), allowed, COUNT(allowed)), 1);
	ck_assert_int_eq(cli_cpu_pick(1, t012, COUNT(t012), allowed, COUNT(allowed)), 4);
	ck_assert_int_eq(cli_cpu_pick(3, t3, COUNT(t3), allowed, COUNT(allowed)), 0);
	/* Every allowed CPU has a worker: stay. */
	ck_assert_int_eq(cli_cpu_pick(2, t0124, COUNT(t0124), allowed, COUNT(allowed)), 2);
	/* Unknown CPU: nothing to say. */
	ck_assert_int_eq(cli_cpu_pick(-1, t0, COUNT(t0), allowed, COUNT(allowed)), -1);
}
END_TEST

#if defined(__linux__) && defined(CPU_COUNT)
static cpu_set_t mask_now(void)
{
	cpu_set_t set;
	ck_assert_int_eq(sched_getaffinity(0, sizeof set, &set), 0);
	return set;
}

/* The count follows the mask: narrowed to one CPU, then restored. */
START_TEST(count_follows_the_mask)
{
	cpu_set_t before = mask_now(), one;
	int here = cli_cpu_current();

	ck_assert_uint_eq(cli_cpu_count(), (size_t)CPU_COUNT(&before));
	if (here < 0)
		return; /* sched_getcpu unsupported: nothing to narrow to */
	CPU_ZERO(&one);
	CPU_SET(here, &one);
	if (sched_setaffinity(0, sizeof one, &one) != 0)
		return; /* masks cannot be changed here (some sandboxes) */
	ck_assert_uint_eq(cli_cpu_count(), 1);
	ck_assert_int_eq(sched_setaffinity(0, sizeof before, &before), 0);
	ck_assert_uint_eq(cli_cpu_count(), (size_t)CPU_COUNT(&before));
}
END_TEST

/*
 * The choice against the real mask, and a move that leaves the mask as it
 * was (that the thread then runs on the CPU chosen is the kernel's to
 * keep: sched_setaffinity moves it before returning).
 */
START_TEST(claim_and_move)
{
	cpu_set_t before = mask_now(), after;
	int here = cli_cpu_current(), other = -1;

	if (here < 0)
		return; /* sched_getcpu unsupported: claims keep to -1, nothing moves */
	ck_assert(CPU_ISSET(here, &before));
	for (int c = 0; c < CPU_SETSIZE && other < 0; c++)
		if (c != here && CPU_ISSET(c, &before))
			other = c;
	/* Free: stay; taken: the lowest other allowed CPU, if there is one. */
	ck_assert_int_eq(cli_cpu_claim(here, NULL, 0), here);
	{
		const int taken[] = { here };
		int lowest = -1;
		for (int c = 0; c < CPU_SETSIZE && lowest < 0; c++)
			if (c != here && CPU_ISSET(c, &before))
				lowest = c;
		ck_assert_int_eq(cli_cpu_claim(here, taken, 1), lowest >= 0 ? lowest : here);
	}
	/* A move is allowed only within the mask, and leaves the mask as it was. */
	ck_assert_int_eq(cli_cpu_move(-1), 0);
	ck_assert_int_eq(cli_cpu_move(CPU_SETSIZE), 0);
	if (sched_setaffinity(0, sizeof before, &before) != 0)
		return; /* masks cannot be changed here (some sandboxes) */
	ck_assert_int_eq(cli_cpu_move(here), 1);
	if (other >= 0)
		ck_assert_int_eq(cli_cpu_move(other), 1);
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (!CPU_ISSET(c, &before)) {
			ck_assert_int_eq(cli_cpu_move(c), 0);
			break;
		}
	after = mask_now();
	ck_assert(CPU_EQUAL(&before, &after));
}
END_TEST

/* What a started thread saw: its CPU and mask as it began, and its argument. */
typedef struct start_seen {
	int cpu, mask_ok;
	cpu_set_t mask;
} start_seen;

static void *note_start(void *arg)
{
	start_seen *seen = arg;
	seen->cpu = cli_cpu_current();
	seen->mask_ok = sched_getaffinity(0, sizeof seen->mask, &seen->mask) == 0;
	return arg;
}

/*
 * Start a thread on cpu, wait for it, and check it ran with the creator's
 * mask; *bound as cli_thread_start_on says.
 */
static start_seen start_and_join(int cpu, const cpu_set_t *mask, int *bound)
{
	start_seen seen = { -2, 0, { { 0 } } };
	pthread_t tid;
	void *ret = NULL;

	ck_assert_int_eq(cli_thread_start_on(&tid, note_start, &seen, cpu, bound), 0);
	ck_assert_int_eq(pthread_join(tid, &ret), 0);
	ck_assert_ptr_eq(ret, &seen);
	ck_assert(seen.mask_ok);
	ck_assert(CPU_EQUAL(&seen.mask, mask));
	return seen;
}

/*
 * A thread started on a CPU begins there, and runs with its creator's mask;
 * a CPU it may not use (or none) gives a plain start.  It is unbound just
 * before it runs, so the scheduler may in principle move it before it can
 * say where it is: of ten starts on each CPU, eight must begin there (a
 * plain start lands where the scheduler likes, on this machine the one CPU
 * or the other about evenly).
 */
START_TEST(start_on_a_cpu)
{
	cpu_set_t before = mask_now();
	int here = cli_cpu_current(), bound = -1;

	(void)start_and_join(-1, &before, &bound);
	ck_assert_int_eq(bound, 0);
	(void)start_and_join(CPU_SETSIZE, &before, &bound);
	ck_assert_int_eq(bound, 0);
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (!CPU_ISSET(c, &before)) {
			(void)start_and_join(c, &before, &bound);
			ck_assert_int_eq(bound, 0);
			break;
		}
	if (here < 0 || sched_setaffinity(0, sizeof before, &before) != 0)
		return; /* sched_getcpu unsupported, or masks cannot be changed here */
	for (int c = 0, tried = 0; c < CPU_SETSIZE && tried < 4; c++) {
		int began_there = 0;
		if (!CPU_ISSET(c, &before))
			continue;
		tried++;
		for (int t = 0; t < 10; t++) {
			began_there += start_and_join(c, &before, &bound).cpu == c;
			ck_assert_int_eq(bound, 1);
		}
		ck_assert_msg(began_there >= 8, "of 10 threads started on CPU %d, %d began there", c,
		              began_there);
	}
}
END_TEST
#endif

static Suite *cpus_suite(void)
{
	Suite *s = suite_create("cpus");
	TCase *tc = tcase_create("cpus");
	tcase_add_test(tc, pick_free_cpu);
#if defined(__linux__) && defined(CPU_COUNT)
	tcase_add_test(tc, count_follows_the_mask);
	tcase_add_test(tc, claim_and_move);
	tcase_add_test(tc, start_on_a_cpu);
#endif
	suite_add_tcase(s, tc);
	return s;
}

IMF_TEST_MAIN(cpus_suite)
