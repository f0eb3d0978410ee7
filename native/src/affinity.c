/* Thread pinning for one rank of a data-parallel run: the calling thread and its OpenMP team
 * are confined to a list of cpus (a NUMA node's, or a share of one). */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "flashlm.h"
#include "internal.h"

#ifdef __linux__
#include <sched.h>

/* The cpu_set_t's 1024 bits hold every id the kernel's default CPU_SETSIZE allows. */
enum { FL_MAX_CPU = CPU_SETSIZE };

int fl_pin_threads(const int *cpus, int n) {
  if (!cpus || n < 1) return fl_error(FL_EINVAL, "pin threads: the cpu list is empty");
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int i = 0; i < n; i++) {
    if (cpus[i] < 0 || cpus[i] >= FL_MAX_CPU)
      return fl_error(FL_EINVAL, "pin threads: cpu id %d is outside [0, %d)", cpus[i], FL_MAX_CPU);
    CPU_SET(cpus[i], &set);
  }
  /* The calling thread first: if the OS refuses the set (none of its cpus in this process's
   * cpuset), nothing has changed yet. */
  if (sched_setaffinity(0, sizeof set, &set) != 0)
    return fl_error(FL_ESTATE, "pin threads: sched_setaffinity: %s", strerror(errno));
  int failed = 0, err = 0, team = fl_team();
#pragma omp parallel num_threads(team)
  {
    if (sched_setaffinity(0, sizeof set, &set) != 0) {
#pragma omp critical(fl_pin)
      {
        failed++;
        err = errno;
      }
    }
  }
  if (failed)
    return fl_error(FL_ESTATE,
                    "pin threads: sched_setaffinity failed on %d of %d OpenMP threads"
                    " (%s); the calling thread is pinned",
                    failed, team, strerror(err));
  return FL_OK;
}
#else
int fl_pin_threads(const int *cpus, int n) {
  return fl_error(FL_ESTATE, "pin threads: not supported on this OS");
}
#endif
