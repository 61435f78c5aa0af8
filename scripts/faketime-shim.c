/* Preloaded before libfaketime by scripts/faketime.sh. libfaketime 0.9.10 (Debian 12) does
   not wrap sem_clockwait, which CPython 3.11 uses for every timed wait (Event.wait, a
   lock's timeout, queue.get): the deadline is read on the faked monotonic clock and then
   waited for on the real one, so a 0.5 s wait under a clock faked years ahead waits years.
   This turns the deadline into a realtime one for sem_timedwait, which libfaketime does
   translate. (Keeping the monotonic clock real instead breaks time.sleep: libfaketime's
   clock_nanosleep then moves an absolute monotonic deadline by the offset.) */
#define _GNU_SOURCE
#include <semaphore.h>
#include <time.h>

int sem_clockwait(sem_t *sem, clockid_t clock, const struct timespec *deadline) {
    struct timespec now, at;
    if (clock_gettime(clock, &now) != 0 || clock_gettime(CLOCK_REALTIME, &at) != 0)
        return -1;
    long long left = (long long)(deadline->tv_sec - now.tv_sec) * 1000000000LL
                     + (deadline->tv_nsec - now.tv_nsec);
    if (left < 0)
        left = 0;
    left += at.tv_nsec;
    at.tv_sec += left / 1000000000LL;
    at.tv_nsec = left % 1000000000LL;
    return sem_timedwait(sem, &at);
}
