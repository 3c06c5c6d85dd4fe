/*
 * agentcgroup-runtime: the native front of the runtime shim (`agentcgroup runtime`), the program an
 * engine runs for every runtime verb (containerd's BinaryName, Docker's runtime path). Engines call a
 * runtime several times per container (create, start, state, kill, delete) and once per exec; only
 * create and run need the shim's logic (the config edit, in TypeScript). So this front reads the
 * command line just far enough to find the verb, and then either
 *
 *   - execs the real runtime in place, with the very argv, environment (plus the shim's loop mark),
 *     fds, signal mask and dispositions: for every verb but create and run, and a command line of
 *     global options alone (--version); or
 *   - execs the full binary as `agentcgroup runtime ARGS...`, exactly the shim without the front:
 *     for create, run, a first --help or --runtime (the shim's own options), and whenever anything
 *     here is not plainly so (the loop mark set, no real runtime found, or one that is us). The
 *     binary then says why in its one line, as it always has.
 *
 * It holds no policy and decides nothing about containers. The real runtime is chosen as the shim
 * chooses it (src/runtime/select.ts): $AGENTCGROUP_RUNTIME (a path, or a name looked up on PATH and
 * then the usual directories), else runc, else crun, never this front or the binary.
 *
 *   AGENTCGROUP_BINARY   the full binary (absolute; default: `agentcgroup` in this front's directory)
 *   AGENTCGROUP_RUNTIME  the real runtime, as for the shim
 *
 * Nothing here reads a container's files: the command line comes from the engine.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

/* Set in the real runtime's environment (src/runtime/select.ts SHIM_MARK): a shim started by a shim. */
#define SHIM_MARK "AGENTCGROUP_SHIM_PID"
#define BINARY_NAME "agentcgroup"

/* Global options that take a value, runc's and crun's (src/runtime/argv.ts GLOBAL). */
static const char *const global_values[] = {"log", "log-format", "log-level", "root", "criu", "rootless", "cgroup-manager", NULL};
/* Engines run the runtime with a sparse PATH: the usual places too (select.ts FALLBACK_PATH). */
static const char *const fallback_path[] = {"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin", NULL};

static char binary[PATH_MAX];
/* Real paths of this front and of the binary: neither may be taken for the real runtime. */
static char self_real[PATH_MAX];
static char binary_real[PATH_MAX];

static int takes_value(const char *name, size_t n)
{
	for (const char *const *v = global_values; *v; v++)
		if (strlen(*v) == n && memcmp(*v, name, n) == 0)
			return 1;
	return 0;
}

/*
 * The verb, as src/runtime/argv.ts parseRuntimeArgv finds it: global options in order (Go's flag
 * package: `--name value`, `--name=value`, `-name value`), an unknown option a flag, `--` ending them.
 */
static const char *find_verb(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *tok = argv[i];
		if (strcmp(tok, "--") == 0)
			return i + 1 < argc ? argv[i + 1] : NULL;
		if (tok[0] != '-' || strcmp(tok, "-") == 0)
			return tok;
		const char *body = tok + (tok[1] == '-' ? 2 : 1);
		if (strchr(body, '=') == NULL && takes_value(body, strlen(body)) && i + 1 < argc)
			i++;
	}
	return NULL;
}

static int executable_file(const char *path)
{
	struct stat st;
	return access(path, X_OK) == 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int is_us(const char *path)
{
	char real[PATH_MAX];
	if (!realpath(path, real))
		return 0;
	return strcmp(real, self_real) == 0 || (binary_real[0] && strcmp(real, binary_real) == 0);
}

/* dir/name into out when it fits and is an executable file that is not us. */
static int candidate(const char *dir, size_t dir_len, const char *name, char *out)
{
	int n = snprintf(out, PATH_MAX, "%.*s/%s", (int)dir_len, dir, name);
	return n > 0 && n < PATH_MAX && executable_file(out) && !is_us(out);
}

/* The first `name` on PATH (absolute entries only), then in the usual places. */
static int on_path(const char *name, char *out)
{
	const char *path = getenv("PATH");
	while (path && *path) {
		const char *end = strchrnul(path, ':');
		if (path[0] == '/' && candidate(path, (size_t)(end - path), name, out))
			return 1;
		path = *end ? end + 1 : end;
	}
	for (const char *const *d = fallback_path; *d; d++)
		if (candidate(*d, strlen(*d), name, out))
			return 1;
	return 0;
}

/* The real runtime into out; 0 when there is none this front may run (the binary then says why). */
static int select_runtime(char *out)
{
	const char *named = getenv("AGENTCGROUP_RUNTIME");
	if (named && *named) {
		if (strchr(named, '/') == NULL)
			return on_path(named, out);
		int n = snprintf(out, PATH_MAX, "%s", named);
		return n > 0 && n < PATH_MAX && executable_file(out) && !is_us(out);
	}
	return on_path("runc", out) || on_path("crun", out);
}

static void locate_binary(void)
{
	const char *env = getenv("AGENTCGROUP_BINARY");
	if (env && env[0] == '/' && strlen(env) < sizeof binary) {
		strcpy(binary, env);
	} else {
		/* Beside this front, however it was reached (the agentcgroup-runtime link names it). */
		char dir[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
		char *slash = n > 0 ? memrchr(dir, '/', (size_t)n) : NULL;
		if (slash)
			*slash = '\0';
		if (!slash || snprintf(binary, sizeof binary, "%s/%s", dir, BINARY_NAME) >= (int)sizeof binary)
			strcpy(binary, "/usr/local/bin/" BINARY_NAME);
	}
	if (!realpath(binary, binary_real))
		binary_real[0] = '\0';
}

static void die(const char *what, const char *path)
{
	char line[PATH_MAX + 256];
	int n = snprintf(line, sizeof line, "agentcgroup: runtime: %s %s: %s\n", what, path, strerror(errno));
	if (n > 0)
		(void)!write(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
	_exit(1);
}

/* The shim itself: `BINARY runtime ARGS...`, everything else as we got it. */
static void run_shim(int argc, char **argv)
{
	char **args = calloc((size_t)argc + 2, sizeof *args);
	if (!args)
		die("out of memory running", binary);
	args[0] = binary;
	args[1] = "runtime";
	for (int i = 1; i < argc; i++)
		args[i + 1] = argv[i];
	execve(binary, args, environ);
	die("cannot run the shim", binary);
}

int main(int argc, char **argv)
{
	locate_binary();
	if (!realpath("/proc/self/exe", self_real))
		self_real[0] = '\0';
	const char *first = argc > 1 ? argv[1] : "";
	if (getenv(SHIM_MARK) || strcmp(first, "--help") == 0 || strcmp(first, "-h") == 0 || strncmp(first, "--runtime", 9) == 0)
		run_shim(argc, argv);
	const char *verb = find_verb(argc, argv);
	static char runtime[PATH_MAX];
	if ((verb && (strcmp(verb, "create") == 0 || strcmp(verb, "run") == 0)) || !self_real[0] || !select_runtime(runtime))
		run_shim(argc, argv);

	/* The mark a shim started by this runtime (a loop) finds: this process's pid, as the shim sets its own. */
	char pid[24];
	snprintf(pid, sizeof pid, "%d", (int)getpid());
	if (setenv(SHIM_MARK, pid, 1) != 0)
		run_shim(argc, argv);
	argv[0] = runtime;
	execve(runtime, argv, environ);
	/* Not runnable after all (ENOEXEC, say): the shim tries, and says why. */
	unsetenv(SHIM_MARK);
	run_shim(argc, argv);
	return 1;
}
