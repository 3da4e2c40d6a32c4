/*
 * Exec load generator for the live benchmark: starts short processes
 * (PROGRAM with one marker argument) at a fixed rate for a fixed time.
 *
 *   loadgen RATE SECONDS PROGRAM MARKER
 *
 * It waits for one line on stdin before starting, so the caller can install an
 * audit rule for its pid (-F ppid=PID) first. It spawns with vfork+execve on an
 * absolute schedule (start + i/RATE), so a slow spawn is caught up rather than
 * lowering the rate silently; if it falls behind, the achieved rate says so.
 * It stops at SECONDS even if behind. At the end it prints: spawned=N failed=F seconds=S rate=R
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Collect finished children; count those that did not exit 0 (exec failed). */
static long reap(int options)
{
    long failed = 0;
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, options)) > 0) {
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            failed++;
    }
    return failed;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s RATE SECONDS PROGRAM MARKER\n", argv[0]);
        return 2;
    }
    double rate = strtod(argv[1], NULL);
    double seconds = strtod(argv[2], NULL);
    if (!(rate > 0) || !(seconds > 0)) {
        fprintf(stderr, "loadgen: RATE and SECONDS must be positive\n");
        return 2;
    }
    char *child_argv[] = {argv[3], argv[4], NULL};
    char *child_env[] = {NULL};

    char go[16];
    if (fgets(go, sizeof go, stdin) == NULL)
        return 1; /* the caller went away before the start signal */

    long total = (long)(rate * seconds);
    long spawned = 0, failed = 0;
    double start = now_s();
    for (long i = 0; i < total; i++) {
        double due = start + (double)i / rate;
        if (now_s() > start + seconds)
            break; /* behind schedule: the achieved rate says by how much */
        double wait = due - now_s();
        if (wait > 0) {
            struct timespec ts = {(time_t)wait, (long)((wait - (time_t)wait) * 1e9)};
            while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
                ;
        }
        pid_t pid = vfork();
        if (pid == 0) {
            execve(child_argv[0], child_argv, child_env);
            _exit(127);
        }
        if (pid < 0) {
            failed++;
            reap(0); /* out of processes: let some finish */
            continue;
        }
        spawned++;
        if ((i & 63) == 0)
            failed += reap(WNOHANG);
    }
    double elapsed = now_s() - start;
    failed += reap(0);
    printf("spawned=%ld failed=%ld seconds=%.3f rate=%.1f\n", spawned, failed, elapsed,
           elapsed > 0 ? spawned / elapsed : 0.0);
    return 0;
}
