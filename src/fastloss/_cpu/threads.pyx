"""What the build knows about OpenMP, and the OpenMP calls the thread controls need."""

cdef extern from "fastloss_omp.h" nogil:
    int FASTLOSS_HAS_OPENMP
    int omp_get_max_threads()
    void omp_set_num_threads(int n)


def has_openmp():
    """True when the kernels were compiled with OpenMP."""
    return bool(FASTLOSS_HAS_OPENMP)


def openmp_max_threads():
    """OpenMP's current default team size (what threadpoolctl reads and sets)."""
    return omp_get_max_threads()


def openmp_set_num_threads(int n):
    omp_set_num_threads(n)
