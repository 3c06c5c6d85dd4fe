/*
 * A fork/exec storm, for the scenario where one container floods the tracker's shared ring buffer
 * and another container's tool calls must still be placed in time. Workers fork and exec PROGRAM
 * (or only fork and exit, with -m fork) as fast as they can until the time is up, then one JSON line
 * on stdout says how many they started:
 *
 *   storm [-w WORKERS] [-s SECONDS] [-m exec|fork] [PROGRAM [ARG...]]
 *   {"mode":"exec","workers":4,"seconds":10.000,"started":81234,"failed":0,"perSecond":8123.4}
 *
 * Run as a container's own program, each exec is a tool call the daemon must make a cgroup for (the
 * workers are forks of the framework, so what they exec is the framework's tool call): the daemon's
 * dearest path. Run as a tool call, the events are cheap to handle and only fill the ring.
 * Bounded: at most 600 seconds, and a fork refused (pids.max) is counted and waited out, never
 * retried in a spin. Build: clang -static -O2 -o storm storm.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_WORKERS 64
#define MAX_SECONDS 600.0

struct counts {
	unsigned long started;
	unsigned long failed;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void usage(const char *why)
{
	fprintf(stderr, "storm: %s\nusage: storm [-w WORKERS (1-%d)] [-s SECONDS (0-%.0f)] [-m exec|fork] [PROGRAM [ARG...]]\n", why, MAX_WORKERS, MAX_SECONDS);
	exit(2);
}

/* One worker: spawn until the deadline. A child that cannot exec exits 127 and counts as failed. */
static void work(struct counts *c, double deadline, int exec_mode, char **argv)
{
	const struct timespec backoff = { 0, 1000000 }; /* 1 ms: the pids limit is a wall, not a race */

	while (now() < deadline) {
		int status;
		pid_t pid = exec_mode ? vfork() : fork();

		if (pid < 0) {
			c->failed++;
			nanosleep(&backoff, NULL);
			continue;
		}
		if (pid == 0) {
			if (exec_mode)
				execv(argv[0], argv);
			_exit(exec_mode ? 127 : 0);
		}
		if (waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0)
			c->started++;
		else
			c->failed++;
	}
}

int main(int argc, char **argv)
{
	static char *default_program[] = { "/bin/true", NULL };
	int workers = 4, exec_mode = 1, opt;
	double seconds = 10, start, elapsed;
	unsigned long started = 0, failed = 0;
	struct counts *counts;
	char **program;

	while ((opt = getopt(argc, argv, "+w:s:m:")) != -1) {
		char *end;

		switch (opt) {
		case 'w':
			workers = (int)strtol(optarg, &end, 10);
			if (*end || workers < 1 || workers > MAX_WORKERS)
				usage("-w: a whole number of workers");
			break;
		case 's':
			seconds = strtod(optarg, &end);
			if (*end || !(seconds >= 0 && seconds <= MAX_SECONDS))
				usage("-s: seconds");
			break;
		case 'm':
			if (strcmp(optarg, "exec") && strcmp(optarg, "fork"))
				usage("-m: exec or fork");
			exec_mode = !strcmp(optarg, "exec");
			break;
		default:
			usage("unknown option");
		}
	}
	program = optind < argc ? argv + optind : default_program;
	if (exec_mode && access(program[0], X_OK) != 0)
		usage("PROGRAM is not executable (give its full path)");

	/* Shared with the workers, so their counts survive them without a pipe. */
	counts = mmap(NULL, sizeof(*counts) * workers, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (counts == MAP_FAILED) {
		perror("storm: mmap");
		return 1;
	}
	memset(counts, 0, sizeof(*counts) * workers);
	start = now();
	for (int i = 0; i < workers; i++) {
		pid_t pid = fork();

		if (pid < 0) { /* the ones running already end at the deadline */
			perror("storm: fork of a worker");
			workers = i;
			break;
		}
		if (pid == 0) {
			work(&counts[i], start + seconds, exec_mode, program);
			_exit(0);
		}
	}
	while (wait(NULL) > 0 || errno == EINTR)
		;
	elapsed = now() - start;
	for (int i = 0; i < workers; i++) {
		started += counts[i].started;
		failed += counts[i].failed;
	}
	printf("{\"mode\":\"%s\",\"workers\":%d,\"seconds\":%.3f,\"started\":%lu,\"failed\":%lu,\"perSecond\":%.1f}\n",
	       exec_mode ? "exec" : "fork", workers, elapsed, started, failed, elapsed > 0 ? started / elapsed : 0.0);
	return 0;
}
