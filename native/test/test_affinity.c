/* fl_pin_threads: argument checks, the calling thread and its OpenMP team pinned, a refused set
 * leaving the calling thread as it was. */
#define _GNU_SOURCE
#include <omp.h>
#include <sched.h>
#include <string.h>

#include "test.h"

/* The cpus this thread may run on now, into out (at most cap); returns how many. */
static int allowed(int *out, int cap) {
  cpu_set_t set;
  int n = 0;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 0;
  for (int c = 0; c < CPU_SETSIZE && n < cap; c++)
    if (CPU_ISSET(c, &set)) out[n++] = c;
  return n;
}

/* Pins the team to want[0..n) and checks every thread's mask is exactly that set. */
static void pin_and_check(const int *want, int n, int threads) {
  fl_set_num_threads(threads);
  int rc = fl_pin_threads(want, n);
  T_CHECK(rc == FL_OK, "pin to %d cpus: %d %s", n, rc, fl_last_error());
  cpu_set_t expect;
  CPU_ZERO(&expect);
  for (int i = 0; i < n; i++) CPU_SET(want[i], &expect);
  int wrong = 0;
#pragma omp parallel num_threads(threads) reduction(+ : wrong)
  {
    cpu_set_t got;
    if (sched_getaffinity(0, sizeof got, &got) != 0 || !CPU_EQUAL(&got, &expect)) wrong++;
  }
  cpu_set_t self;
  sched_getaffinity(0, sizeof self, &self);
  T_CHECK(wrong == 0, "%d of %d team threads not pinned to the %d cpus", wrong, threads, n);
  T_CHECK(CPU_EQUAL(&self, &expect), "the calling thread is not pinned to the %d cpus", n);
}

void test_pin_threads(void) {
  int before_threads = fl_num_threads();
  int cpus[CPU_SETSIZE];
  int n = allowed(cpus, CPU_SETSIZE);
  T_CHECK(n >= 1, "sched_getaffinity found no cpu");
  if (n < 1) return;

  T_CHECK(fl_pin_threads(cpus, 0) == FL_EINVAL, "an empty list is refused");
  T_CHECK(fl_pin_threads(NULL, 1) == FL_EINVAL, "a null list is refused");
  int bad[] = {cpus[0], -1};
  T_CHECK(fl_pin_threads(bad, 2) == FL_EINVAL && strstr(fl_last_error(), "-1"),
          "a negative id is refused naming it: %s", fl_last_error());
  int big[] = {CPU_SETSIZE};
  T_CHECK(fl_pin_threads(big, 1) == FL_EINVAL, "an id past the set is refused");

  pin_and_check(cpus + n - 1, 1, 2); /* one cpu, two threads */
  pin_and_check(cpus, n, 3);         /* back to every allowed cpu, a team of three */

  /* A set with no cpu of this process's cpuset: refused by the OS, the caller unchanged. */
  int outside = -1;
  for (int c = CPU_SETSIZE - 1; c >= 0 && outside < 0; c--) {
    int in = 0;
    for (int i = 0; i < n; i++) in |= cpus[i] == c;
    if (!in) outside = c;
  }
  if (outside >= 0) {
    int rc = fl_pin_threads(&outside, 1);
    T_CHECK(rc == FL_ESTATE && strstr(fl_last_error(), "sched_setaffinity"),
            "cpu %d outside the cpuset: %d %s", outside, rc, fl_last_error());
    int now[CPU_SETSIZE];
    T_CHECK(allowed(now, CPU_SETSIZE) == n, "a refused pin changed the calling thread's mask");
  }
  fl_set_num_threads(before_threads);
}
