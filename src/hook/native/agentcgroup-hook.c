/*
 * agentcgroup-hook: the native front of `agentcgroup hook`, so that a container start costs no Node
 * start-up when the daemon runs.
 *
 * A runtime runs it exactly as it would run our hook: the same argv (["agentcgroup", "hook",
 * STAGE...]), the OCI state on stdin. It holds no policy and decides nothing about containers: it
 * reads stdin (up to the hook's own bound), hands argv, its AGENTCGROUP_* variables and the state to
 * the daemon's admin op `hook` (src/daemon/hookop.ts), which runs the hook's own TypeScript, and
 * relays the answer: the hook's stderr and its exit code. Whenever that does not happen cleanly (no
 * socket, no daemon, a daemon that declines or does not know the op, closes early, answers something
 * malformed or too long, or takes too long), it execs the full binary with the same argv and
 * environment and the very bytes it read as stdin, so behaviour without a daemon is the hook's own.
 *
 *   AGENTCGROUP_ADMIN_SOCKET  the daemon's admin socket (default /run/agentcgroup/admin.sock; empty:
 *                             never ask, always run the binary)
 *   AGENTCGROUP_BINARY        the binary to exec (default /usr/local/bin/agentcgroup; absolute)
 *
 * Both are written by whoever registers the hook (src/runtime/prepare.ts hookSpec); the hooks.d
 * files use the defaults. The daemon must run as the front's own user (SO_PEERCRED), as the daemon
 * serves root alone. The state is the container's business: it is only counted and relayed
 * (base64), never parsed here. Every bound below is fixed; every read and write is retried on EINTR
 * and loops on short counts. No signal disposition or mask is changed before the exec (the binary
 * gets them as the runtime set them); relaying, it ignores SIGPIPE so a closed stderr cannot kill it
 * with another status than the hook's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* The hook's own bound on stdin (src/cli/context.ts STDIN_LIMIT): read to one byte past it. */
#define STDIN_LIMIT (1 << 20)
/* One admin request line, newline included (src/daemon/lines.ts MAX_LINE). */
#define REQUEST_MAX (64 * 1024)
/* The longest reply line taken, newline included (src/daemon/hookop.ts HOOK_OP_LIMITS.replyBytes). */
#define REPLY_MAX (256 * 1024)
/* argv entries and AGENTCGROUP_* variables forwarded (HOOK_OP_LIMITS.args, .env); more: the binary. */
#define MAX_ARGS 64
#define MAX_ENV 32
/* From connecting to the whole reply read: the daemon's hook waits are bounded by 5 s (poststop's
 * stragglers); past this the binary runs, well inside a runtime's hook timeout (30 s in ours). The
 * unit tests build a copy with a shorter one. */
#ifndef EXCHANGE_MS
#define EXCHANGE_MS 15000
#endif

#define DEFAULT_SOCKET "/run/agentcgroup/admin.sock"
#define DEFAULT_BINARY "/usr/local/bin/agentcgroup"
#define ENV_PREFIX "AGENTCGROUP_"

static unsigned char input[STDIN_LIMIT + 1];
static size_t input_len;
static char request[REQUEST_MAX];
static size_t request_len;
static char reply[REPLY_MAX];
static unsigned char message[REPLY_MAX / 4 * 3];

enum input_end { INPUT_EOF, INPUT_OVER, INPUT_ERROR };

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for `events` on fd until the deadline: 0 when ready (or in error: the next call says), -1 on timeout. */
static int wait_fd(int fd, short events, long long deadline)
{
	for (;;) {
		long long left = deadline < 0 ? -1 : deadline - now_ms();
		if (deadline >= 0 && left <= 0)
			return -1;
		struct pollfd p = { .fd = fd, .events = events };
		int r = poll(&p, 1, left < 0 ? -1 : left > INT_MAX ? INT_MAX : (int)left);
		if (r > 0)
			return 0;
		if (r == 0 || errno != EINTR)
			return -1;
	}
}

/* All of stdin, up to one byte past the hook's bound. */
static enum input_end read_input(void)
{
	while (input_len < sizeof input) {
		ssize_t n = read(0, input + input_len, sizeof input - input_len);
		if (n > 0) {
			input_len += (size_t)n;
		} else if (n == 0) {
			return INPUT_EOF;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (wait_fd(0, POLLIN, -1) < 0)
				return INPUT_ERROR;
		} else if (errno != EINTR) {
			return INPUT_ERROR;
		}
	}
	return INPUT_OVER;
}

static int append(const char *s, size_t n)
{
	if (n > sizeof request - request_len)
		return -1;
	memcpy(request + request_len, s, n);
	request_len += n;
	return 0;
}

static int append_str(const char *s)
{
	return append(s, strlen(s));
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* `s` as a JSON string of its standard, padded base64. */
static int append_base64(const unsigned char *s, size_t n)
{
	size_t need = (n + 2) / 3 * 4 + 2;
	if (need > sizeof request - request_len)
		return -1;
	char *o = request + request_len;
	*o++ = '"';
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0) | (i + 2 < n ? s[i + 2] : 0);
		*o++ = B64[v >> 18 & 63];
		*o++ = B64[v >> 12 & 63];
		*o++ = i + 1 < n ? B64[v >> 6 & 63] : '=';
		*o++ = i + 2 < n ? B64[v & 63] : '=';
	}
	*o++ = '"';
	request_len += need;
	return 0;
}

/* {"op":"hook","argv":[...],"env":[...],"stdin":"..."}\n, or -1 when it would not fit one admin line. */
static int build_request(int argc, char **argv)
{
	if (argc < 1 || argc > MAX_ARGS)
		return -1;
	if (append_str("{\"op\":\"hook\",\"argv\":["))
		return -1;
	for (int i = 0; i < argc; i++) {
		if ((i > 0 && append_str(",")) || append_base64((const unsigned char *)argv[i], strlen(argv[i])))
			return -1;
	}
	if (append_str("],\"env\":["))
		return -1;
	int vars = 0;
	for (char **e = environ; *e; e++) {
		if (strncmp(*e, ENV_PREFIX, sizeof ENV_PREFIX - 1) != 0)
			continue;
		if (++vars > MAX_ENV)
			return -1;
		if ((vars > 1 && append_str(",")) || append_base64((const unsigned char *)*e, strlen(*e)))
			return -1;
	}
	if (append_str("],\"stdin\":") || append_base64(input, input_len) || append_str("}\n"))
		return -1;
	return 0;
}

static int connect_daemon(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	size_t len = strlen(path);
	if (len == 0 || len >= sizeof addr.sun_path)
		return -1;
	memcpy(addr.sun_path, path, len);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	/* A unix socket connects at once or not at all (EAGAIN: a full backlog, a busy daemon). */
	int r;
	do
		r = connect(fd, (struct sockaddr *)&addr, sizeof addr);
	while (r < 0 && errno == EINTR);
	/* Only a daemon of our own user (root, for a runtime's hooks) is believed: a socket another user
	 * could have put there (a run dir made writable by mistake) is no daemon of ours. */
	struct ucred peer;
	socklen_t size = sizeof peer;
	if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &size) < 0 || size != sizeof peer || peer.uid != geteuid()) {
		close(fd);
		return -1;
	}
	return fd;
}

static int send_all(int fd, const char *s, size_t n, long long deadline)
{
	while (n > 0) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
		if (w > 0) {
			s += w;
			n -= (size_t)w;
		} else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait_fd(fd, POLLOUT, deadline) < 0)
				return -1;
		} else if (w == 0 || errno != EINTR) {
			return -1;
		}
	}
	return 0;
}

/* One reply line, newline included and nothing after it; its length, or -1. */
static ssize_t read_reply(int fd, long long deadline)
{
	size_t len = 0;
	while (len < sizeof reply) {
		ssize_t n = recv(fd, reply + len, sizeof reply - len, 0);
		if (n > 0) {
			char *nl = memchr(reply + len, '\n', (size_t)n);
			len += (size_t)n;
			if (nl)
				return nl == reply + len - 1 ? (ssize_t)len : -1;
		} else if (n == 0) {
			return -1; /* closed before a whole line */
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (wait_fd(fd, POLLIN, deadline) < 0)
				return -1;
		} else if (errno != EINTR) {
			return -1;
		}
	}
	return -1; /* too long */
}

static int b64_value(char c)
{
	const char *p = c ? strchr(B64, c) : NULL;
	return p ? (int)(p - B64) : -1;
}

/* Strict standard base64 (padded, no white space) into `message`; its length, or -1. */
static ssize_t decode_base64(const char *s, size_t n)
{
	if (n % 4)
		return -1;
	size_t out = 0;
	for (size_t i = 0; i < n; i += 4) {
		int last = i + 4 == n;
		int a = b64_value(s[i]), b = b64_value(s[i + 1]);
		int pad2 = last && s[i + 2] == '=' && s[i + 3] == '=';
		int pad1 = last && !pad2 && s[i + 3] == '=';
		int c = pad2 ? 0 : b64_value(s[i + 2]);
		int d = pad2 || pad1 ? 0 : b64_value(s[i + 3]);
		if (a < 0 || b < 0 || c < 0 || d < 0)
			return -1;
		unsigned v = (unsigned)a << 18 | (unsigned)b << 12 | (unsigned)c << 6 | (unsigned)d;
		message[out++] = (unsigned char)(v >> 16);
		if (!pad2)
			message[out++] = (unsigned char)(v >> 8);
		if (!pad2 && !pad1)
			message[out++] = (unsigned char)v;
	}
	return (ssize_t)out;
}

/* {"v":1,"ok":true,"exit":N,"stderr":"B64"}\n, to the byte; N from 0 to 255. */
static int parse_reply(size_t len, int *code, size_t *message_len)
{
	static const char head[] = "{\"v\":1,\"ok\":true,\"exit\":";
	static const char middle[] = ",\"stderr\":\"";
	static const char tail[] = "\"}\n";
	const char *p = reply, *end = reply + len;
	if (len < sizeof head - 1 || memcmp(p, head, sizeof head - 1) != 0)
		return -1;
	p += sizeof head - 1;
	int value = 0, digits = 0;
	while (p < end && *p >= '0' && *p <= '9' && digits < 3) {
		value = value * 10 + (*p++ - '0');
		digits++;
	}
	if (digits == 0 || value > 255 || (digits > 1 && p[-digits] == '0'))
		return -1;
	if ((size_t)(end - p) < sizeof middle - 1 || memcmp(p, middle, sizeof middle - 1) != 0)
		return -1;
	p += sizeof middle - 1;
	const char *text = p;
	while (p < end && *p != '"')
		p++;
	if ((size_t)(end - p) != sizeof tail - 1 || memcmp(p, tail, sizeof tail - 1) != 0)
		return -1;
	ssize_t n = decode_base64(text, (size_t)(p - text));
	if (n < 0)
		return -1;
	*code = value;
	*message_len = (size_t)n;
	return 0;
}

/* The daemon's answer relayed: its stderr written, its exit code taken. Returns only if there was none. */
static void ask_daemon(const char *path)
{
	long long deadline = now_ms() + EXCHANGE_MS;
	int fd = connect_daemon(path);
	if (fd < 0)
		return;
	ssize_t len = -1;
	if (send_all(fd, request, request_len, deadline) == 0)
		len = read_reply(fd, deadline);
	close(fd);
	int code;
	size_t n;
	if (len < 0 || parse_reply((size_t)len, &code, &n) < 0)
		return;
	signal(SIGPIPE, SIG_IGN);
	for (size_t off = 0; off < n;) {
		ssize_t w = write(2, message + off, n - off);
		if (w > 0)
			off += (size_t)w;
		else if (w < 0 && errno == EINTR)
			continue;
		else
			break; /* the hook's own stderr would have been lost the same way */
	}
	_exit(code);
}

static void fail(const char *what, const char *binary)
{
	char line[512];
	int n = snprintf(line, sizeof line, "agentcgroup: hook: %s %s: %s\n", what, binary, strerror(errno));
	if (n > 0)
		(void)!write(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
	_exit(127);
}

/* The bytes read become fd 0 again, from the start, as a file of their own. */
static int replace_stdin(void)
{
	int fd = memfd_create("agentcgroup-hook-stdin", MFD_CLOEXEC);
	if (fd < 0)
		return -1;
	for (size_t off = 0; off < input_len;) {
		ssize_t w = write(fd, input + off, input_len - off);
		if (w > 0)
			off += (size_t)w;
		else if (!(w < 0 && errno == EINTR))
			return -1;
	}
	if (lseek(fd, 0, SEEK_SET) != 0)
		return -1;
	if (fd == 0)
		return fcntl(0, F_SETFD, 0);
	if (dup2(fd, 0) != 0)
		return -1;
	close(fd);
	return 0;
}

/* exec the full binary as we were called: same argv, same environment, the same stdin bytes. */
static void run_binary(char **argv, enum input_end end)
{
	const char *binary = getenv("AGENTCGROUP_BINARY");
	if (!binary || !*binary)
		binary = DEFAULT_BINARY;
	if (binary[0] != '/') {
		errno = EINVAL;
		fail("AGENTCGROUP_BINARY is not an absolute path:", binary);
	}
	/* A stdin that could not be read at all (closed, say) is left as it is: nothing of it was taken. */
	if (!(end == INPUT_ERROR && input_len == 0) && replace_stdin() < 0)
		fail("cannot hand the state on to", binary);
	execve(binary, argv, environ);
	fail("cannot run", binary);
}

int main(int argc, char **argv)
{
	enum input_end end = read_input();
	const char *path = getenv("AGENTCGROUP_ADMIN_SOCKET");
	if (!path)
		path = DEFAULT_SOCKET;
	if (end == INPUT_EOF && *path && build_request(argc, argv) == 0)
		ask_daemon(path);
	run_binary(argv, end);
	return 127;
}
