/* A failing disk for tests, loaded into the server with LD_PRELOAD (built at test time with gcc).
 *
 * While the file named by SERVICEHALL_FSYNC_FAIL_FLAG exists, fsync and fdatasync stall for
 * SERVICEHALL_FSYNC_STALL_MS (default 0) as a dying disk does, then fail with EIO if the flag is still
 * there; once it is gone they pass through to libc. The stall keeps requests queued behind the failing
 * flush, and the check after it lets the fault end during a flush, as a real fault may. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int flagged(void) {
    const char *flag = getenv("SERVICEHALL_FSYNC_FAIL_FLAG");
    return flag != NULL && access(flag, F_OK) == 0;
}

static int failing(void) {
    if (!flagged()) {
        return 0;
    }
    const char *stall = getenv("SERVICEHALL_FSYNC_STALL_MS");
    long ms = stall != NULL ? atol(stall) : 0;
    if (ms > 0) {
        struct timespec pause = {ms / 1000, (ms % 1000) * 1000000L};
        nanosleep(&pause, NULL);
    }
    return flagged();
}

int fsync(int fd) {
    static int (*real)(int);
    if (failing()) {
        errno = EIO;
        return -1;
    }
    if (real == NULL) {
        real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    }
    return real(fd);
}

int fdatasync(int fd) {
    static int (*real)(int);
    if (failing()) {
        errno = EIO;
        return -1;
    }
    if (real == NULL) {
        real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    }
    return real(fd);
}
