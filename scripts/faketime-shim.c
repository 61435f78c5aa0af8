/* Preloaded before libfaketime by scripts/faketime.sh, to mend the two ways libfaketime
   0.9.10 (Debian 12) breaks a test suite that starts many processes:

   - It shares one semaphore among every process it is loaded into, taken on each stat()
     call. A process killed with SIGKILL while holding it (the fault tests kill Dovecot
     and the daemon) leaves all the others waiting forever, and a process of another user
     (PostgreSQL, run as its own user) may not open it at all and exits. Its own code
     runs without that semaphore when sem_open fails ("platforms that do not support
     sem_open"): so it fails here, for libfaketime's names only.
   - It does not wrap sem_clockwait, which CPython 3.11 uses for every timed wait
     (Event.wait, a lock's timeout, queue.get): the deadline is read on the faked
     monotonic clock and waited for on the real one, so a 0.5 s wait under a clock faked
     years ahead waits years. The deadline becomes a realtime one for sem_timedwait,
     which libfaketime translates. (Keeping the monotonic clock real instead breaks
     time.sleep: libfaketime's clock_nanosleep moves an absolute monotonic deadline.) */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

sem_t *sem_open(const char *name, int oflag, ...) {
    static sem_t *(*real)(const char *, int, ...) = NULL;
    if (strncmp(name, "/faketime_", 10) == 0) {
        errno = ENOSYS;
        return SEM_FAILED;
    }
    if (real == NULL)
        real = (sem_t * (*)(const char *, int, ...)) dlsym(RTLD_NEXT, "sem_open");
    if (oflag & O_CREAT) {
        va_list args;
        va_start(args, oflag);
        mode_t mode = va_arg(args, mode_t);
        unsigned int value = va_arg(args, unsigned int);
        va_end(args);
        return real(name, oflag, mode, value);
    }
    return real(name, oflag);
}

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
