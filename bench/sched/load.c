/*
 * The two programs of `npm run bench:sched`, one static binary:
 *
 *   load probe INTERVAL_US SECONDS   the agent framework's stand-in: wakes every INTERVAL_US on an
 *                                    absolute CLOCK_MONOTONIC timer, does ~50 us of work (a framework
 *                                    handling a token, a tool call's output), and measures how late
 *                                    each wake-up ran: the scheduling delay the framework's user feels.
 *                                    Prints `probe N P50_US P99_US MAX_US`.
 *   load burn THREADS SECONDS        a CPU-bound tool call (a build, a test run): THREADS busy loops,
 *                                    counting. Prints `burn ITERATIONS_PER_SECOND`: its throughput.
 *
 * C, not node: a garbage collector's pauses would be measured as scheduling delay.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b) {
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static volatile uint64_t sink;

static void spin_ns(uint64_t ns) {
	uint64_t end = now_ns() + ns;
	while (now_ns() < end) sink++;
}

static int probe(long interval_us, long seconds) {
	size_t cap = (size_t)(seconds * 1000000 / interval_us) + 16, n = 0;
	uint64_t *late = calloc(cap, sizeof *late);
	if (!late) return 1;
	uint64_t start = now_ns(), next = start, end = start + (uint64_t)seconds * 1000000000ull;
	while (n < cap) {
		next += (uint64_t)interval_us * 1000ull;
		if (next >= end) break;
		struct timespec ts = { .tv_sec = (time_t)(next / 1000000000ull), .tv_nsec = (long)(next % 1000000000ull) };
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0) {}
		uint64_t t = now_ns();
		late[n++] = t - next;
		spin_ns(50000);
		// A wake-up so late that the next one is due already: count from now, as a framework would.
		if (now_ns() > next + (uint64_t)interval_us * 1000ull) next = now_ns();
	}
	qsort(late, n, sizeof *late, cmp_u64);
	if (n == 0) return 1;
	printf("probe %zu %llu %llu %llu\n", n, (unsigned long long)(late[n / 2] / 1000), (unsigned long long)(late[(n * 99) / 100] / 1000),
	       (unsigned long long)(late[n - 1] / 1000));
	return 0;
}

struct burner {
	uint64_t end;
	uint64_t count;
};

static void *burn_thread(void *arg) {
	struct burner *b = arg;
	uint64_t c = 0;
	for (;;) {
		for (int i = 0; i < 100000; i++) sink += (uint64_t)i;
		c++;
		if (now_ns() >= b->end) break;
	}
	b->count = c;
	return NULL;
}

static int burn(long threads, long seconds) {
	if (threads < 1 || threads > 256) return 1;
	pthread_t tid[256];
	struct burner b[256];
	uint64_t start = now_ns();
	for (long i = 0; i < threads; i++) {
		b[i] = (struct burner){ .end = start + (uint64_t)seconds * 1000000000ull, .count = 0 };
		pthread_create(&tid[i], NULL, burn_thread, &b[i]);
	}
	uint64_t total = 0;
	for (long i = 0; i < threads; i++) {
		pthread_join(tid[i], NULL);
		total += b[i].count;
	}
	double s = (double)(now_ns() - start) / 1e9;
	printf("burn %.1f\n", (double)total / s);
	return 0;
}

int main(int argc, char **argv) {
	if (argc == 4 && strcmp(argv[1], "probe") == 0) return probe(atol(argv[2]), atol(argv[3]));
	if (argc == 4 && strcmp(argv[1], "burn") == 0) return burn(atol(argv[2]), atol(argv[3]));
	fprintf(stderr, "usage: load probe INTERVAL_US SECONDS | load burn THREADS SECONDS\n");
	return 2;
}
