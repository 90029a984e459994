"""What the build knows about OpenMP, and the C side of the thread-count policy (fastloss._threads).

fastloss never sets OpenMP's default team size (the ``nthreads`` ICV that torch, threadpoolctl and
every other OpenMP user in the process share): each kernel passes its team size to its parallel
region explicitly.

Fork: GNU libgomp keeps its thread pool's bookkeeping across ``fork()`` but not its threads, so in
the child the first parallel region of more than one thread waits forever for the parent's
workers; a team of one thread never touches the pool. A ``pthread_atfork`` child handler, registered
when this module is imported, therefore puts a process forked after fastloss started a team of more
than one thread into serial mode: every kernel there runs with one thread. (A pool started only by
another library that shares fastloss's libgomp is not seen here.)
"""

cdef extern from "fastloss_omp.h" nogil:
    int FASTLOSS_HAS_OPENMP
    int omp_get_max_threads()

cdef extern from *:
    """
    #if defined(__unix__) || defined(__APPLE__)
    #include <pthread.h>
    #define FL_HAVE_ATFORK 1
    #else
    #define FL_HAVE_ATFORK 0
    #endif
    static int fl_team_started = 0;  /* a kernel ran (or was about to run) a team of more than one thread */
    static int fl_fork_serial = 0;   /* this process was forked after that: kernels run on one thread */
    static void fl_atfork_child(void) { if (fl_team_started) fl_fork_serial = 1; }
    static int fl_register_atfork(void)
    {
    #if FL_HAVE_ATFORK
        return pthread_atfork(NULL, NULL, fl_atfork_child);
    #else
        return 0;
    #endif
    }
    """
    int fl_team_started
    int fl_fork_serial
    int fl_register_atfork()


if fl_register_atfork() != 0:
    raise ImportError("fastloss: pthread_atfork failed: cannot make the kernels safe to use after fork()")


def has_openmp():
    """True when the kernels were compiled with OpenMP."""
    return bool(FASTLOSS_HAS_OPENMP)


def openmp_max_threads():
    """OpenMP's current default team size (what threadpoolctl reads and sets)."""
    return omp_get_max_threads()


def forked_serial():
    """True in a process forked after fastloss ran a team of more than one thread."""
    return bool(fl_fork_serial)


def team_size(int configured, bint kernel):
    """The team size of a kernel call: ``configured`` (0: OpenMP's default), or 1 in a process
    forked after a team of more than one thread ran. ``kernel``: a kernel is about to start that
    team (recorded for fork)."""
    global fl_team_started
    cdef int n
    if fl_fork_serial:
        return 1
    n = configured if configured > 0 else omp_get_max_threads()
    if kernel and n > 1:
        fl_team_started = 1
    return n
