/*
 * agentcgroup-exec: the in-container exec client without Node. One static binary that the runtime
 * shim and the daemon (as NRI plugin) bind-mount read-only at /run/agentcgroup/agentcgroup-exec, next
 * to the container's exec socket, so an image needs nothing of ours.
 *
 *   agentcgroup-exec [--name NAME] [--] CMD [ARGS...]
 *
 * Speaks src/exec/protocol.ts exactly as src/exec/client.ts runViaSocket does, byte for byte: connects
 * to $AGENTCGROUP_EXEC_SOCKET (else /run/agentcgroup/exec.sock), sends `begin`, and once the daemon has
 * moved this process into the call's cgroup forks and execs CMD (execvp: PATH lookup), forwarding the
 * signals src/sys/forward.ts forwards; then sends `end` with how CMD ended, prints the daemon's notice
 * on stderr and exits as a shell reports CMD: its exit code, 128+N for signal N.
 *
 * Our own failures are one line `agentcgroup: exec: ...` on stderr and exit 125, before CMD runs: no
 * socket, a refused call, a request the daemon's decoder would refuse (over MAX_MESSAGE_BYTES or
 * MAX_ARGS, a name not of 1 to 256 characters), a reply that is not one JSON object line of at most
 * 64 KiB. After CMD ran: CMD not found exits 127 and not executable 126 (as a shell, and as
 * `agentcgroup exec` from the host, whose sh execs the command), one line naming it, its end reported
 * with that status. A daemon gone during the call (closed socket) costs CMD nothing: it runs to its end
 * and its status is ours, with one line saying the end went unreported. A reply to `end` that is not
 * one is 125, as in the TS client.
 *
 * Strings go out as JSON.stringify writes them from what Node makes of the same argv: invalid UTF-8
 * becomes U+FFFD (one per maximal subpart, as V8 and the WHATWG decoder do), control characters
 * \b \f \n \r \t or \u00XX, quote and backslash escaped, everything else as it is. CMD itself is
 * exec'd with its bytes untouched.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define EXEC_FAILED 125
#define NOT_EXECUTABLE 126
#define NOT_FOUND 127

/* src/exec/protocol.ts */
#define MAX_MESSAGE_BYTES (64 * 1024)
#define MAX_ARGS 1024
#define MAX_NAME_UNITS 256
#define MAX_CALL_ID 64
/* Longest reply line read (the daemon's notices are one short line). */
#define MAX_REPLY_BYTES (64 * 1024)
/* Nesting of a reply's JSON this client walks through. */
#define MAX_DEPTH 16

static const char DEFAULT_SOCKET[] = "/run/agentcgroup/exec.sock";

/* ---- output ---- */

struct buf {
  char *p;
  size_t len, cap;
  int over; /* something did not fit */
};

static void put(struct buf *b, const void *s, size_t n) {
  if (b->over || n > b->cap - b->len) {
    b->over = 1;
    return;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
}

static void puts_(struct buf *b, const char *s) { put(b, s, strlen(s)); }

static void write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    p += w;
    n -= (size_t)w;
  }
}

/*
 * The next code point of s[0..n): its length in *len, or -1 for an ill-formed subpart of *len bytes
 * (the maximal subpart: what U+FFFD replaces, per the Unicode standard's recommended practice).
 */
static int32_t utf8_next(const unsigned char *s, size_t n, size_t *len) {
  unsigned char c = s[0];
  *len = 1;
  if (c < 0x80) return c;
  size_t need;
  unsigned char lo = 0x80, hi = 0xbf;
  int32_t cp;
  if (c >= 0xc2 && c <= 0xdf) need = 1, cp = c & 0x1f;
  else if (c >= 0xe0 && c <= 0xef) need = 2, cp = c & 0x0f, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
  else if (c >= 0xf0 && c <= 0xf4) need = 3, cp = c & 0x07, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
  else return -1;
  for (size_t i = 1; i <= need; i++) {
    if (i >= n || s[i] < lo || s[i] > hi) return -1; /* *len bytes so far make the subpart */
    cp = (cp << 6) | (s[i] & 0x3f);
    lo = 0x80, hi = 0xbf;
    *len = i + 1;
  }
  return cp;
}

/* UTF-16 code units of s as Node decodes it: what the daemon's `name.length` counts. */
static size_t utf16_units(const char *s) {
  size_t n = strlen(s), units = 0;
  for (size_t i = 0, len; i < n; i += len) {
    int32_t cp = utf8_next((const unsigned char *)s + i, n - i, &len);
    units += cp >= 0x10000 ? 2 : 1;
  }
  return units;
}

/*
 * Whether text.ts would escape code point cp when showing untrusted text: controls, and what hides or
 * reorders text.
 */
static int unsafe_to_show(int32_t cp) {
  return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x2028 && cp <= 0x202e) ||
         (cp >= 0x2060 && cp <= 0x2069) || cp == 0xfeff;
}

/*
 * s as a JSON string. `show`: for a message (text.ts quote()): also escapes what a terminal acts on,
 * and cuts at max code points. Otherwise JSON.stringify's exact output for the string Node decodes.
 */
static void json_string(struct buf *b, const char *s, int show, size_t max) {
  static const char hex[] = "0123456789abcdef";
  size_t n = strlen(s), shown = 0;
  put(b, "\"", 1);
  for (size_t i = 0, len; i < n; i += len) {
    if (show && shown++ == max) {
      puts_(b, "\"\xe2\x80\xa6"); /* …, after the quote as quote() puts it */
      return;
    }
    int32_t cp = utf8_next((const unsigned char *)s + i, n - i, &len);
    if (cp < 0) {
      puts_(b, "\xef\xbf\xbd"); /* U+FFFD */
      continue;
    }
    const char *esc = cp == '"' ? "\\\"" : cp == '\\' ? "\\\\" : cp == '\b' ? "\\b" : cp == '\f' ? "\\f" : cp == '\n' ? "\\n" : cp == '\r' ? "\\r" : cp == '\t' ? "\\t" : NULL;
    if (esc) {
      puts_(b, esc);
    } else if (cp < 0x20 || (show && unsafe_to_show(cp))) {
      char u[6] = {'\\', 'u', hex[(cp >> 12) & 15], hex[(cp >> 8) & 15], hex[(cp >> 4) & 15], hex[cp & 15]};
      put(b, u, sizeof u);
    } else {
      put(b, s + i, len);
    }
  }
  put(b, "\"", 1);
}

/* One line on stderr, `agentcgroup: exec: ` first, written at once. */
static void say(const char *a, const char *quoted, const char *b) {
  char space[1024];
  struct buf m = {space, 0, sizeof space - 2, 0};
  puts_(&m, "agentcgroup: exec: ");
  puts_(&m, a);
  if (quoted) json_string(&m, quoted, 1, 60);
  if (b) puts_(&m, b);
  m.p[m.len++] = '\n'; /* what did not fit is left off: the line still ends */
  write_all(2, m.p, m.len);
}

static const char *errname(int e) {
  const char *name = strerrorname_np(e);
  return name ? name : strerror(e);
}

static int failed(const char *a, const char *quoted, const char *b) {
  say(a, quoted, b);
  return EXEC_FAILED;
}

/* ---- the socket ---- */

struct conn {
  int fd;
  char in[MAX_REPLY_BYTES + 1];
  size_t have; /* bytes in `in`, a line's start first */
};

static int send_line(struct conn *c, const char *p, size_t n) {
  while (n > 0) {
    /* MSG_NOSIGNAL: a daemon gone is an error here, never a SIGPIPE (a disposition CMD would inherit if ignored). */
    ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

enum got { GOT_LINE, GOT_CLOSED, GOT_TOO_LONG };

/* The next reply line, NUL-terminated in c->in (its length in *len); what follows it is kept. */
static enum got read_line(struct conn *c, size_t *len, size_t *consumed) {
  for (;;) {
    char *nl = memchr(c->in, '\n', c->have);
    if (nl) {
      *nl = '\0';
      *len = (size_t)(nl - c->in);
      *consumed = *len + 1;
      return GOT_LINE;
    }
    if (c->have >= MAX_REPLY_BYTES) return GOT_TOO_LONG;
    ssize_t r = recv(c->fd, c->in + c->have, MAX_REPLY_BYTES - c->have, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return GOT_CLOSED;
    c->have += (size_t)r;
  }
}

static void drop_line(struct conn *c, size_t consumed) {
  memmove(c->in, c->in + consumed, c->have - consumed);
  c->have -= consumed;
}

/* ---- the reply: one JSON object; ok, call, notice, error read, the rest walked over ---- */

struct reply {
  int ok;                      /* -1 absent */
  char *call, *notice, *error; /* NULL absent (or null) */
};

struct parser {
  const char *p, *end;
  char *out; /* decoded strings, each NUL-terminated: never longer than their JSON */
};

static void ws(struct parser *ps) {
  while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')) ps->p++;
}

static int hex4(const char *p, const char *end, uint32_t *v) {
  if (end - p < 4) return -1;
  *v = 0;
  for (int i = 0; i < 4; i++) {
    char c = p[i];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (d < 0) return -1;
    *v = *v << 4 | (uint32_t)d;
  }
  return 0;
}

static void put_utf8(char **o, uint32_t cp) {
  unsigned char *u = (unsigned char *)*o;
  if (cp < 0x80) *u++ = (unsigned char)cp;
  else if (cp < 0x800) *u++ = (unsigned char)(0xc0 | cp >> 6), *u++ = (unsigned char)(0x80 | (cp & 0x3f));
  else if (cp < 0x10000) *u++ = (unsigned char)(0xe0 | cp >> 12), *u++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3f)), *u++ = (unsigned char)(0x80 | (cp & 0x3f));
  else *u++ = (unsigned char)(0xf0 | cp >> 18), *u++ = (unsigned char)(0x80 | ((cp >> 12) & 0x3f)), *u++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3f)), *u++ = (unsigned char)(0x80 | (cp & 0x3f));
  *o = (char *)u;
}

/* A JSON string at ps->p (its opening quote), decoded into ps->out; NULL if malformed. */
static char *string(struct parser *ps) {
  char *start = ps->out, *o = ps->out;
  ps->p++;
  while (ps->p < ps->end) {
    unsigned char c = (unsigned char)*ps->p++;
    if (c == '"') {
      *o++ = '\0';
      ps->out = o;
      return start;
    }
    if (c < 0x20) return NULL;
    if (c != '\\') {
      *o++ = (char)c;
      continue;
    }
    if (ps->p >= ps->end) return NULL;
    char e = *ps->p++;
    uint32_t cp;
    switch (e) {
      case '"': case '\\': case '/': *o++ = e; break;
      case 'b': *o++ = '\b'; break;
      case 'f': *o++ = '\f'; break;
      case 'n': *o++ = '\n'; break;
      case 'r': *o++ = '\r'; break;
      case 't': *o++ = '\t'; break;
      case 'u':
        if (hex4(ps->p, ps->end, &cp)) return NULL;
        ps->p += 4;
        if (cp >= 0xd800 && cp <= 0xdbff) {
          uint32_t lo;
          if (ps->end - ps->p >= 6 && ps->p[0] == '\\' && ps->p[1] == 'u' && !hex4(ps->p + 2, ps->end, &lo) && lo >= 0xdc00 && lo <= 0xdfff) {
            ps->p += 6;
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          } else {
            cp = 0xfffd;
          }
        } else if (cp >= 0xdc00 && cp <= 0xdfff) {
          cp = 0xfffd;
        }
        /* Never longer than its escape: 6 bytes give at most 3, 12 at most 4. */
        put_utf8(&o, cp);
        break;
      default: return NULL;
    }
  }
  return NULL;
}

static int literal(struct parser *ps, const char *word) {
  size_t n = strlen(word);
  if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0) return -1;
  ps->p += n;
  return 0;
}

static int digits(struct parser *ps) {
  const char *from = ps->p;
  while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') ps->p++;
  return ps->p > from ? 0 : -1;
}

static int number(struct parser *ps) {
  if (ps->p < ps->end && *ps->p == '-') ps->p++;
  if (ps->p < ps->end && *ps->p == '0') ps->p++;
  else if (digits(ps)) return -1;
  if (ps->p < ps->end && *ps->p == '.') {
    ps->p++;
    if (digits(ps)) return -1;
  }
  if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
    ps->p++;
    if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-')) ps->p++;
    if (digits(ps)) return -1;
  }
  return 0;
}

/* Kinds of value, for the fields whose type is checked. */
enum kind { K_BAD, K_OTHER, K_STRING, K_TRUE, K_FALSE, K_NULL };

static enum kind value(struct parser *ps, int depth, char **str);

/* An object or array at ps->p, walked over; `r` (the top level only) gets the fields read. */
static int container(struct parser *ps, int depth, struct reply *r) {
  char close = *ps->p == '{' ? '}' : ']';
  int object = close == '}';
  if (depth > MAX_DEPTH) return -1;
  ps->p++;
  ws(ps);
  if (ps->p < ps->end && *ps->p == close) {
    ps->p++;
    return 0;
  }
  for (;;) {
    char *key = NULL;
    if (object) {
      if (ps->p >= ps->end || *ps->p != '"' || !(key = string(ps))) return -1;
      ws(ps);
      if (ps->p >= ps->end || *ps->p++ != ':') return -1;
      ws(ps);
    }
    char *str = NULL;
    enum kind k = value(ps, depth + 1, &str);
    if (k == K_BAD) return -1;
    if (r && key) {
      /* As JSON.parse: the last of a repeated key counts. */
      if (!strcmp(key, "ok")) {
        if (k != K_TRUE && k != K_FALSE) return -1;
        r->ok = k == K_TRUE;
      } else if (!strcmp(key, "call") || !strcmp(key, "notice") || !strcmp(key, "error")) {
        if (k != K_STRING && k != K_NULL) return -1;
        char **field = key[0] == 'c' ? &r->call : key[0] == 'n' ? &r->notice : &r->error;
        *field = str;
      }
    }
    ws(ps);
    if (ps->p >= ps->end) return -1;
    char c = *ps->p++;
    if (c == close) return 0;
    if (c != ',') return -1;
    ws(ps);
  }
}

static enum kind value(struct parser *ps, int depth, char **str) {
  if (ps->p >= ps->end) return K_BAD;
  switch (*ps->p) {
    case '{': case '[': return container(ps, depth, NULL) ? K_BAD : K_OTHER;
    case '"': return (*str = string(ps)) ? K_STRING : K_BAD;
    case 't': return literal(ps, "true") ? K_BAD : K_TRUE;
    case 'f': return literal(ps, "false") ? K_BAD : K_FALSE;
    case 'n': return literal(ps, "null") ? K_BAD : K_NULL;
    default: return number(ps) ? K_BAD : K_OTHER;
  }
}

/* `line` (len bytes, no newline) as a reply; -1 when it is not one JSON object. */
static int parse_reply(const char *line, size_t len, char *out, struct reply *r) {
  struct parser ps = {line, line + len, out};
  *r = (struct reply){-1, NULL, NULL, NULL};
  ws(&ps);
  if (ps.p >= ps.end || *ps.p != '{' || container(&ps, 0, r)) return -1;
  ws(&ps);
  return ps.p == ps.end ? 0 : -1;
}

enum asked { ASKED, ASK_CLOSED, ASK_BAD };

/* Sends one request line and reads its reply. */
static enum asked ask(struct conn *c, const struct buf *req, char *out, struct reply *r) {
  size_t len, consumed;
  if (send_line(c, req->p, req->len)) return ASK_CLOSED;
  enum got g = read_line(c, &len, &consumed);
  if (g == GOT_CLOSED) return ASK_CLOSED;
  if (g == GOT_TOO_LONG) return ASK_BAD;
  /* Decoded into `out`, so the line's bytes may go. */
  int bad = parse_reply(c->in, len, out, r);
  drop_line(c, consumed);
  return bad ? ASK_BAD : ASKED;
}

static int call_id_ok(const char *s) {
  size_t n = strlen(s);
  if (n < 1 || n > MAX_CALL_ID) return 0;
  for (const char *p = s; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' || *p == '-')) return 0;
  return 1;
}

/* ---- the command ---- */

/* The signals src/sys/forward.ts FORWARDED passes on. */
static const int FORWARDED[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
#define NFORWARDED (sizeof FORWARDED / sizeof FORWARDED[0])

static volatile pid_t child;

static void forward(int sig) {
  int saved = errno;
  if (child > 0) kill(child, sig);
  errno = saved;
}

/* A signal's name as Node's os.constants.signals gives it (first name per number); SIGn otherwise, as the daemon's calls.ts writes one. */
static void signal_name(int sig, char *name, size_t size) {
  static const struct { int n; const char *name; } NAMES[] = {
    {SIGHUP, "SIGHUP"}, {SIGINT, "SIGINT"}, {SIGQUIT, "SIGQUIT"}, {SIGILL, "SIGILL"}, {SIGTRAP, "SIGTRAP"},
    {SIGABRT, "SIGABRT"}, {SIGBUS, "SIGBUS"}, {SIGFPE, "SIGFPE"}, {SIGKILL, "SIGKILL"}, {SIGUSR1, "SIGUSR1"},
    {SIGSEGV, "SIGSEGV"}, {SIGUSR2, "SIGUSR2"}, {SIGPIPE, "SIGPIPE"}, {SIGALRM, "SIGALRM"}, {SIGTERM, "SIGTERM"},
    {SIGCHLD, "SIGCHLD"}, {SIGSTKFLT, "SIGSTKFLT"}, {SIGCONT, "SIGCONT"}, {SIGSTOP, "SIGSTOP"}, {SIGTSTP, "SIGTSTP"},
    {SIGTTIN, "SIGTTIN"}, {SIGTTOU, "SIGTTOU"}, {SIGURG, "SIGURG"}, {SIGXCPU, "SIGXCPU"}, {SIGXFSZ, "SIGXFSZ"},
    {SIGVTALRM, "SIGVTALRM"}, {SIGPROF, "SIGPROF"}, {SIGWINCH, "SIGWINCH"}, {SIGIO, "SIGIO"}, {SIGPWR, "SIGPWR"},
    {SIGSYS, "SIGSYS"},
  };
  for (size_t i = 0; i < sizeof NAMES / sizeof NAMES[0]; i++) {
    if (NAMES[i].n == sig) {
      snprintf(name, size, "%s", NAMES[i].name);
      return;
    }
  }
  snprintf(name, size, "SIG%d", sig);
}

struct ending {
  int ran;         /* 0: no child was made (pipe or fork failed): our own failure */
  int exit;        /* -1: none (a signal ended it) */
  char signal[16]; /* "" for none */
  int status;      /* as a shell reports it */
};

/*
 * Runs argv with stdio inherited and the forwarded signals passed on, until it ends. The child reports
 * a failed exec on a close-on-exec pipe: 127 for ENOENT, 126 for the rest, as a shell.
 */
static struct ending run(char **argv) {
  struct ending end = {0, -1, "", EXEC_FAILED};
  int report[2];
  if (pipe2(report, O_CLOEXEC)) {
    char why[64];
    snprintf(why, sizeof why, ": %s", errname(errno));
    say("cannot run ", argv[0], why);
    return end;
  }
  sigset_t forwarded, before;
  sigemptyset(&forwarded);
  for (size_t i = 0; i < NFORWARDED; i++) sigaddset(&forwarded, FORWARDED[i]);
  /* Held from before the fork until `child` is set: none is lost, none goes to no one. */
  sigprocmask(SIG_BLOCK, &forwarded, &before);
  struct sigaction sa = {0};
  sa.sa_handler = forward;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < NFORWARDED; i++) sigaction(FORWARDED[i], &sa, NULL);

  pid_t pid = fork();
  if (pid == 0) {
    struct sigaction dfl = {0};
    dfl.sa_handler = SIG_DFL;
    for (size_t i = 0; i < NFORWARDED; i++) sigaction(FORWARDED[i], &dfl, NULL);
    sigprocmask(SIG_SETMASK, &before, NULL);
    execvp(argv[0], argv);
    int e = errno;
    write_all(report[1], (const char *)&e, sizeof e);
    _exit(e == ENOENT ? NOT_FOUND : NOT_EXECUTABLE);
  }
  close(report[1]);
  if (pid < 0) {
    int e = errno;
    close(report[0]);
    struct sigaction dfl = {0};
    dfl.sa_handler = SIG_DFL;
    for (size_t i = 0; i < NFORWARDED; i++) sigaction(FORWARDED[i], &dfl, NULL);
    sigprocmask(SIG_SETMASK, &before, NULL);
    char why[64];
    snprintf(why, sizeof why, ": %s", errname(e));
    say("cannot run ", argv[0], why);
    return end;
  }
  end.ran = 1;
  child = pid;
  sigprocmask(SIG_SETMASK, &before, NULL);

  int e = 0;
  ssize_t r;
  while ((r = read(report[0], &e, sizeof e)) < 0 && errno == EINTR) {
  }
  close(report[0]);
  if (r == (ssize_t)sizeof e) {
    char why[64];
    snprintf(why, sizeof why, ": %s", errname(e));
    say("cannot run ", argv[0], why);
  }

  /*
   * Waited for unreaped first, so a forwarded signal meets the zombie, never a recycled pid; then,
   * with the signals held, `child` is cleared and it is reaped.
   */
  siginfo_t info;
  while (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT) < 0 && errno == EINTR) {
  }
  sigprocmask(SIG_BLOCK, &forwarded, NULL);
  child = 0;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  /* The call is over: these signals end this process again, as in the TS client once its child ended. */
  struct sigaction dfl = {0};
  dfl.sa_handler = SIG_DFL;
  for (size_t i = 0; i < NFORWARDED; i++) sigaction(FORWARDED[i], &dfl, NULL);
  sigprocmask(SIG_SETMASK, &before, NULL);

  if (WIFSIGNALED(status)) {
    signal_name(WTERMSIG(status), end.signal, sizeof end.signal);
    end.status = 128 + WTERMSIG(status);
  } else {
    end.exit = WEXITSTATUS(status);
    end.status = end.exit;
  }
  return end;
}

/* ---- main ---- */

static const char USAGE[] =
    "usage: agentcgroup-exec [--name NAME] [--] CMD [ARGS...]\n"
    "Runs CMD as one tool call in its own cgroup, through the agentcgroup daemon's socket\n"
    "$AGENTCGROUP_EXEC_SOCKET (default /run/agentcgroup/exec.sock); passes stdio, signals and the exit\n"
    "code through (128+N for signal N; 127 not found, 126 not executable); exits 125 when agentcgroup\n"
    "itself fails.\n";

static const char *base_name(const char *path, char *space, size_t size) {
  /* As Node's path.basename: trailing slashes go, then what follows the last slash. */
  size_t n = strlen(path);
  while (n > 0 && path[n - 1] == '/') n--;
  size_t from = n;
  while (from > 0 && path[from - 1] != '/') from--;
  size_t len = n - from < size - 1 ? n - from : size - 1;
  memcpy(space, path + from, len);
  space[len] = '\0';
  return space;
}

int main(int argc, char **argv) {
  const char *name = NULL;
  int i = 1;
  for (; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--")) {
      i++;
      break;
    }
    if (!strcmp(a, "--name")) {
      if (i + 1 >= argc) return failed("--name needs a value", NULL, NULL);
      name = argv[++i];
    } else if (!strncmp(a, "--name=", 7)) {
      name = a + 7;
    } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      write_all(1, USAGE, sizeof USAGE - 1);
      return 0;
    } else if (a[0] == '-' && a[1] != '\0') {
      return failed("unknown option ", a, " (usage: agentcgroup-exec [--name NAME] [--] CMD [ARGS...])");
    } else {
      break;
    }
  }
  if (i >= argc) return failed("no command given (usage: agentcgroup-exec [--name NAME] [--] CMD [ARGS...])", NULL, NULL);
  char **cmd = argv + i;
  size_t nargs = (size_t)(argc - i);
  if (nargs > MAX_ARGS) {
    char why[96];
    snprintf(why, sizeof why, "%zu arguments, more than the %d the exec socket takes", nargs, MAX_ARGS);
    return failed(why, NULL, NULL);
  }
  char base[4096];
  if (!name) name = base_name(cmd[0], base, sizeof base);
  if (name[0] == '\0' || utf16_units(name) > MAX_NAME_UNITS) return failed("the tool-call name must be 1 to 256 characters, got ", name, NULL);

  /* The request, as encode() writes it; the line is bounded without its newline. */
  static char request[MAX_MESSAGE_BYTES + 1];
  struct buf req = {request, 0, MAX_MESSAGE_BYTES, 0};
  puts_(&req, "{\"v\":1,\"op\":\"begin\",\"name\":");
  json_string(&req, name, 0, 0);
  puts_(&req, ",\"argv\":[");
  for (size_t k = 0; k < nargs; k++) {
    if (k) put(&req, ",", 1);
    json_string(&req, cmd[k], 0, 0);
  }
  puts_(&req, "]}");
  if (req.over) {
    char why[128];
    snprintf(why, sizeof why, "the command line is longer than the %d bytes the exec socket takes (as JSON)", MAX_MESSAGE_BYTES);
    return failed(why, NULL, NULL);
  }
  req.cap++;
  put(&req, "\n", 1);

  const char *path = getenv("AGENTCGROUP_EXEC_SOCKET");
  if (!path || !*path) path = DEFAULT_SOCKET;
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof addr.sun_path) return failed("the socket path is too long for a unix socket: ", path, NULL);
  memcpy(addr.sun_path, path, strlen(path));

  static struct conn c;
  c.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int rc = -1;
  if (c.fd >= 0) {
    while ((rc = connect(c.fd, (struct sockaddr *)&addr, sizeof addr)) < 0 && errno == EINTR) {
    }
  }
  if (c.fd < 0 || rc < 0) {
    char why[64];
    snprintf(why, sizeof why, ": %s", errname(errno));
    return failed("cannot reach the agentcgroup daemon at ", path, why);
  }

  static char decoded[MAX_REPLY_BYTES + 1];
  struct reply r;
  enum asked a = ask(&c, &req, decoded, &r);
  if (a == ASK_CLOSED) return failed("the agentcgroup daemon closed the exec socket", NULL, NULL);
  if (a == ASK_BAD) return failed("the daemon sent something that is not one JSON object line of at most 64 KiB", NULL, NULL);
  if (r.ok != 1 || !r.call || !r.call[0]) return failed("the daemon refused the call: ", NULL, r.error ? r.error : "no reason given");
  if (!call_id_ok(r.call)) return failed("the daemon sent a call id that is not one: ", r.call, NULL);
  char call[MAX_CALL_ID + 1];
  snprintf(call, sizeof call, "%s", r.call);

  struct ending end = run(cmd);
  /* No child: the connection closing ends the call, which the daemon logs without a status. */
  if (!end.ran) return EXEC_FAILED;

  char endline[160];
  struct buf e = {endline, 0, sizeof endline, 0};
  puts_(&e, "{\"v\":1,\"op\":\"end\",\"call\":\"");
  puts_(&e, call);
  puts_(&e, "\",\"exit\":");
  if (end.exit >= 0) {
    char n[8];
    snprintf(n, sizeof n, "%d", end.exit);
    puts_(&e, n);
  } else {
    puts_(&e, "null");
  }
  puts_(&e, ",\"signal\":");
  if (end.signal[0]) {
    put(&e, "\"", 1);
    puts_(&e, end.signal);
    put(&e, "\"", 1);
  } else {
    puts_(&e, "null");
  }
  puts_(&e, "}\n");

  a = ask(&c, &e, decoded, &r);
  close(c.fd);
  if (a == ASK_CLOSED) {
    say("the agentcgroup daemon closed the exec socket during the call; its end was not reported", NULL, NULL);
    return end.status;
  }
  if (a == ASK_BAD) return failed("the daemon sent something that is not one JSON object line of at most 64 KiB", NULL, NULL);
  if (r.ok == 0) say("the daemon refused the end of the call: ", NULL, r.error ? r.error : "no reason given");
  if (r.notice && r.notice[0]) {
    size_t n = strlen(r.notice);
    r.notice[n] = '\n'; /* within `decoded`: its NUL's place */
    write_all(2, r.notice, n + 1);
  }
  return end.status;
}
