/*
 * The in-container half of `npm run bench:replay`: one static binary, two programs, chosen by the name
 * it is run under (argv[0]'s last component).
 *
 *   agent PLAN OUT   the agent framework: the container's process, or (the default) the child of its
 *                    init wrapper, tini, as under `docker run --init`. Nothing here assumes PID 1: it
 *                    waits only for its own tool calls. Waits until /ctl/go can be opened (the
 *                    bench starts every agent of a run at once), then runs PLAN one line at a time:
 *                      H <KiB>         hold this much memory (the framework's baseline)
 *                      W <ms>          wait (the model thinking), reaping tool calls meanwhile
 *                      C <idx> <spec>  start tool call idx: fork + execve of /bin/tool SPEC
 *                      J               wait for every running tool call
 *                    and appends to OUT (CLOCK_MONOTONIC microseconds, the bench's clock too):
 *                      S <us>                          started
 *                      G <path>                        its own cgroup (after S, and before D)
 *                      R <idx> <start> <end> <status>  a tool call ended: exit code, or 128+signal
 *                      D <us>                          the plan ran to the end
 *   tool SPEC        one tool call. SPEC is `ms:KiB,ms:KiB,...`: the memory it holds, linear between
 *                    points, until the last point's time. Exits 0.
 *
 * Memory is real: pages of one anonymous mapping are written to grow, and given back with
 * MADV_DONTNEED to shrink, so the kernel charges and uncharges exactly that much. Each page written
 * holds FILL bytes of pseudo-random data and zeros after them: about 3:1 compressible, as program
 * memory roughly is. A page of one byte and zeros would cost zram (compressed swap) next to nothing,
 * and flatter whatever swaps to it.
 *
 * A tool call's time is progress, not wall clock: it sleeps in slices, and a slice that took far
 * longer than asked (the call was frozen, or stalled at memory.high) counts as at most two slices. So
 * a frozen call makes no progress and ends that much later, as a real program would.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096UL
/* 1.25 KiB of each 4 KiB page: ~3.2:1 with lz4 or zstd. Cheap: 160 xorshift steps a page, which counts
 * in the emulated guest. */
#define FILL 1280UL
#define SLICE_MS 25
#define MAX_CALLS 4096

static char *region;
static size_t region_size;
static size_t held;

static int64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void die(const char *what) {
  dprintf(2, "replay-agent: %s: %s\n", what, strerror(errno));
  exit(125);
}

static void reserve(size_t bytes) {
  region_size = (bytes + PAGE - 1) & ~(PAGE - 1);
  if (region_size == 0) return;
  region = mmap(NULL, region_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (region == MAP_FAILED) die("mmap");
  /* 4 KiB pages only: a huge page would charge 2 MiB at the first byte written. */
  madvise(region, region_size, MADV_NOHUGEPAGE);
}

static uint64_t rng;

/* xorshift64: pages differ from each other and within, so neither zram nor a compressor finds them alike. */
static void fill(char *page) {
  uint64_t *w = (uint64_t *)page;
  if (rng == 0) rng = 0x9e3779b97f4a7c15ULL ^ (uint64_t)getpid();
  for (size_t i = 0; i < FILL / sizeof *w; i++) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    w[i] = rng;
  }
}

static void hold(size_t bytes) {
  bytes &= ~(PAGE - 1);
  if (bytes > region_size) bytes = region_size;
  if (bytes > held) {
    for (size_t o = held; o < bytes; o += PAGE) fill(region + o);
  } else if (bytes < held) {
    madvise(region + bytes, held - bytes, MADV_DONTNEED);
  }
  held = bytes;
}

static void sleep_ms(int64_t ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* ---- tool ---- */

static int tool(const char *spec) {
  size_t n = 1;
  for (const char *p = spec; *p; p++) n += *p == ',';
  int64_t *t = calloc(n, sizeof *t), *kib = calloc(n, sizeof *kib);
  if (!t || !kib) die("calloc");
  size_t k = 0;
  int64_t top = 0;
  for (const char *p = spec; *p && k < n;) {
    char *end;
    t[k] = strtoll(p, &end, 10);
    if (*end != ':') break;
    kib[k] = strtoll(end + 1, &end, 10);
    if (kib[k] > top) top = kib[k];
    k++;
    p = *end == ',' ? end + 1 : end;
  }
  if (k == 0) {
    dprintf(2, "replay-agent: tool: bad spec\n");
    return 125;
  }
  reserve((size_t)top * 1024);
  const int64_t total = t[k - 1];
  int64_t progress = 0, carry = 0, last = now_us() / 1000;
  size_t seg = 0;
  for (;;) {
    while (seg + 1 < k && t[seg + 1] <= progress) seg++;
    int64_t level = kib[seg];
    if (seg + 1 < k && t[seg + 1] > t[seg]) level = kib[seg] + (kib[seg + 1] - kib[seg]) * (progress - t[seg]) / (t[seg + 1] - t[seg]);
    hold((size_t)level * 1024);
    if (progress >= total) break;
    if (carry > 0) {
      /* A point was just held at its exact level: now the time the slice overshot it. */
      progress = progress + carry < total ? progress + carry : total;
      carry = 0;
      continue;
    }
    /* Slices end on the next point, so every sampled level, a short peak too, is held at its time. */
    int64_t next = seg + 1 < k ? t[seg + 1] : total;
    int64_t slice = next - progress < SLICE_MS ? next - progress : SLICE_MS;
    sleep_ms(slice);
    int64_t at = now_us() / 1000, dt = at - last;
    last = at;
    progress += dt < 2 * slice ? dt : 2 * slice;
    if (next < total && progress > next) {
      carry = progress - next;
      progress = next;
    }
  }
  return 0;
}

/* ---- agent ---- */

static int out_fd;
static pid_t pids[MAX_CALLS];
static int idxs[MAX_CALLS];
static int64_t starts[MAX_CALLS];
static int running;

static void emit(const char *line) {
  size_t len = strlen(line);
  if (write(out_fd, line, len) != (ssize_t)len) die("write");
}

/* Its own cgroup, /proc/self/cgroup's v2 line, as `G <path>`: whether the daemon left the framework in
 * the agent leaf or took it for a tool call. */
static void emit_cgroup(void) {
  char buf[1024];
  int fd = open("/proc/self/cgroup", O_RDONLY);
  if (fd < 0) return;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return;
  buf[n] = 0;
  for (char *p = buf; *p;) {
    char *nl = strchr(p, '\n');
    if (strncmp(p, "0::", 3) == 0) {
      char line[1100];
      snprintf(line, sizeof line, "G %.*s\n", (int)strcspn(p + 3, "\n"), p + 3);
      emit(line);
      return;
    }
    if (!nl) return;
    p = nl + 1;
  }
}

static void reap(void) {
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    int64_t end = now_us();
    for (int i = 0; i < running; i++) {
      if (pids[i] != pid) continue;
      int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      char line[128];
      snprintf(line, sizeof line, "R %d %lld %lld %d\n", idxs[i], (long long)starts[i], (long long)end, code);
      emit(line);
      running--;
      pids[i] = pids[running];
      idxs[i] = idxs[running];
      starts[i] = starts[running];
      break;
    }
  }
}

/* Waits until `deadline` (us; -1: until no call runs), reaping calls as they end. */
static void wait_until(int64_t deadline, sigset_t *chld) {
  for (;;) {
    reap();
    int64_t left = deadline < 0 ? -1 : deadline - now_us();
    if (deadline < 0 ? running == 0 : left <= 0) return;
    if (deadline < 0) {
      sigwaitinfo(chld, NULL);
    } else {
      struct timespec ts = {left / 1000000, (left % 1000000) * 1000};
      sigtimedwait(chld, NULL, &ts);
    }
  }
}

static void spawn(int idx, const char *spec) {
  reap();
  if (running == MAX_CALLS) {
    dprintf(2, "replay-agent: too many tool calls at once\n");
    exit(125);
  }
  int64_t start = now_us();
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    char *argv[] = {"tool", (char *)spec, NULL};
    char *envp[] = {"PATH=/bin", NULL};
    execve("/bin/tool", argv, envp);
    _exit(127);
  }
  pids[running] = pid;
  idxs[running] = idx;
  starts[running] = start;
  running++;
}

static int agent(const char *plan_path, const char *out_path) {
  int fd = open(plan_path, O_RDONLY);
  if (fd < 0) die(plan_path);
  struct stat st;
  if (fstat(fd, &st) != 0) die("fstat");
  char *plan = malloc((size_t)st.st_size + 1);
  if (!plan) die("malloc");
  size_t got = 0;
  while (got < (size_t)st.st_size) {
    ssize_t r = read(fd, plan + got, (size_t)st.st_size - got);
    if (r <= 0) die("read plan");
    got += (size_t)r;
  }
  plan[got] = 0;
  close(fd);

  long long top = 0;
  for (char *p = plan; *p;) {
    if (*p == 'H') {
      long long v = strtoll(p + 1, NULL, 10);
      if (v > top) top = v;
    }
    char *nl = strchr(p, '\n');
    p = nl ? nl + 1 : p + strlen(p);
  }
  reserve((size_t)top * 1024);

  out_fd = open(out_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (out_fd < 0) die(out_path);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, NULL);

  /* Blocks until the bench opens the FIFO: every agent of a run starts together. */
  emit("P\n");
  int go = open("/ctl/go", O_RDONLY);
  if (go < 0) die("/ctl/go");
  close(go);
  char line[160];
  snprintf(line, sizeof line, "S %lld\n", (long long)now_us());
  emit(line);
  emit_cgroup();

  for (char *p = plan; *p;) {
    char *nl = strchr(p, '\n');
    if (nl) *nl = 0;
    switch (p[0]) {
      case 'H':
        hold((size_t)strtoll(p + 1, NULL, 10) * 1024);
        break;
      case 'W':
        wait_until(now_us() + strtoll(p + 1, NULL, 10) * 1000, &chld);
        break;
      case 'C': {
        char *spec;
        int idx = (int)strtol(p + 1, &spec, 10);
        while (*spec == ' ') spec++;
        spawn(idx, spec);
        break;
      }
      case 'J':
        wait_until(-1, &chld);
        break;
      default:
        break;
    }
    p = nl ? nl + 1 : p + strlen(p);
  }
  wait_until(-1, &chld);
  emit_cgroup();
  snprintf(line, sizeof line, "D %lld\n", (long long)now_us());
  emit(line);
  return 0;
}

int main(int argc, char **argv) {
  const char *name = strrchr(argv[0], '/');
  name = name ? name + 1 : argv[0];
  if (strcmp(name, "tool") == 0 && argc == 2) return tool(argv[1]);
  if (strcmp(name, "agent") == 0 && argc == 3) return agent(argv[1], argv[2]);
  dprintf(2, "usage: agent PLAN OUT | tool SPEC\n");
  return 2;
}
