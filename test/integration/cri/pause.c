/*
 * The pod sandbox's process for the CRI scenario's pause image, as Kubernetes' own pause does it: PID 1
 * of the pod, it sleeps until told to stop and reaps whatever is reparented to it. PID 1 of a PID
 * namespace gets no signal it has no handler for, so SIGTERM and SIGINT need one to end it.
 * Built static (clang -static), as the image holds nothing else.
 */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int sig) {
  (void)sig;
  _exit(0);
}

static void reap(int sig) {
  (void)sig;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

int main(void) {
  struct sigaction ends = {.sa_handler = stop};
  struct sigaction children = {.sa_handler = reap, .sa_flags = SA_NOCLDSTOP | SA_RESTART};
  if (sigaction(SIGINT, &ends, NULL) < 0 || sigaction(SIGTERM, &ends, NULL) < 0 || sigaction(SIGCHLD, &children, NULL) < 0) return 1;
  for (;;) pause();
}
