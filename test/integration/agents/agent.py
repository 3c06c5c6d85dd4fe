"""A stand-in agent framework with the process shapes of real ones (see agent-shapes scenarios).

Usage: agent.py MODE OUT_DIR
  subprocess  four concurrent subprocess.Popen(["bash", "-c", ...]) tool calls (mini-swe-agent's
              subprocess.run per call, started together so the test sees all four at once)
  shell-true  subprocess.Popen(cmd, shell=True), as Aider does
  charge      one `dd bs=24M` call between two quiet points the test measures the agent leaf at
  pipe        one persistent bash fed commands over a pipe (SWE-agent)
  tmux        a tmux session whose shell runs typed commands (OpenHands)
It writes OUT_DIR/ready when its tool calls are running, then runs `bash -c "$(cat OUT_DIR/run-N)"`
for N = 1, 2... as those files appear, until it is killed with its container.
Every long call is `sleep 600` behind a marker argument, so the test can find it from outside.
"""
import os
import subprocess
import sys
import time

mode, out = sys.argv[1], sys.argv[2]


def mark(name, text=""):
    with open(os.path.join(out, name + ".tmp"), "w") as f:
        f.write(text)
    os.rename(os.path.join(out, name + ".tmp"), os.path.join(out, name))


def wait_for(name):
    while not os.path.exists(os.path.join(out, name)):
        time.sleep(0.1)


LONG = "sleep 600; echo call-%d"

if mode == "subprocess":
    procs = [subprocess.Popen(["bash", "-c", LONG % i]) for i in range(4)]
elif mode == "shell-true":
    procs = [subprocess.Popen(LONG % i, shell=True) for i in range(4)]
elif mode == "charge":
    mark("quiet-1")
    wait_for("go-1")
    subprocess.run(["dd", "if=/dev/zero", "of=/dev/null", "bs=24M", "count=1", "status=none"], check=True)
    mark("quiet-2")
    wait_for("go-2")
    procs = [subprocess.Popen(["bash", "-c", LONG % 0])]
elif mode == "pipe":
    shell = subprocess.Popen(["bash"], stdin=subprocess.PIPE, text=True)
    for line in [
        "cat /proc/self/cgroup > %s/cmd-1" % out,
        "grep -h . /proc/self/cgroup | cat > %s/cmd-2" % out,
        "cd /tmp && ls > /dev/null",
        "sleep 600; echo call-0",
    ]:
        shell.stdin.write(line + "\n")
        shell.stdin.flush()
    procs = [shell]
elif mode == "tmux":
    env = dict(os.environ, TMUX_TMPDIR=out, SHELL="/bin/bash")
    subprocess.run(["tmux", "-f", "/dev/null", "new-session", "-d", "-s", "main", "-x", "120", "-y", "30"], env=env, check=True)
    subprocess.run(["tmux", "send-keys", "-t", "main", "cat /proc/self/cgroup > %s/cmd-1" % out, "Enter"], env=env, check=True)
    subprocess.run(["tmux", "send-keys", "-t", "main", "sleep 600; echo call-0", "Enter"], env=env, check=True)
    procs = []
else:
    sys.exit("unknown mode " + mode)

mark("ready")
# More calls on request: OUT/run-N holds a command line, run as `bash -c` (the test's triggers).
n = 1
while True:
    path = os.path.join(out, "run-%d" % n)
    if os.path.exists(path):
        with open(path) as f:
            procs.append(subprocess.Popen(["bash", "-c", f.read()]))
        n += 1
    time.sleep(0.1)
