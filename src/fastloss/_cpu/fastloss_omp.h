/* OpenMP where the build has it, single-thread stand-ins where it does not, so that the Cython
 * sources never need a compile-time branch. */
#ifndef FASTLOSS_OMP_H
#define FASTLOSS_OMP_H
#ifdef _OPENMP
#include <omp.h>
#define FASTLOSS_HAS_OPENMP 1
#else
#define FASTLOSS_HAS_OPENMP 0
static inline int omp_get_max_threads(void) { return 1; }
static inline void omp_set_num_threads(int n) { (void)n; }
static inline int omp_get_thread_num(void) { return 0; }
static inline int omp_get_num_threads(void) { return 1; }
static inline int omp_get_num_procs(void) { return 1; }
#endif
#endif
