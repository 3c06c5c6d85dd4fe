"""The framework of `npm run bench:tracker`: a python agent that runs its tool calls with
subprocess.run, as mini-swe-agent does. The guest driver restarts the daemon between phases (hold on,
hold off) and tells this agent when to run each; for the page-cache call it drops the caches before
and reads the agent leaf after, so the agent asks and waits at those points.

Usage: agent.py CTL OUT PHASES CALLS
Each phase runs CALLS times: dd bs=64M, python bytes(64M), cat of a 64 MiB file, /bin/true; OUT gets
one JSON line per call with its wall time as the framework saw it.
"""
import json
import os
import subprocess
import sys
import time

ctl, out, phases, calls = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])

KINDS = {
    "dd": ["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1", "status=none"],
    "python": ["python3", "-c", "x = b'\\x01' * (64 << 20)"],
    "cache": ["cat", "/data/file64"],
    "true": ["true"],
}


def touch(name):
    with open(os.path.join(ctl, name), "w"):
        pass


def wait_for(name):
    path = os.path.join(ctl, name)
    while not os.path.exists(path):
        time.sleep(0.05)


with open(os.path.join(out, "calls.jsonl"), "a") as log:
    for phase in range(phases):
        wait_for("start-%d" % phase)
        for i in range(calls):
            for kind, argv in KINDS.items():
                tag = "%d-%d-%s" % (phase, i, kind)
                if kind == "cache":
                    touch("drop-" + tag)
                    wait_for("dropped-" + tag)
                t0 = time.monotonic_ns()
                subprocess.run(argv, stdout=subprocess.DEVNULL, check=True)
                wall = time.monotonic_ns() - t0
                if kind == "cache":
                    touch("read-" + tag)
                    wait_for("measured-" + tag)
                log.write(json.dumps({"phase": phase, "i": i, "kind": kind, "wallNs": wall}) + "\n")
                log.flush()
        touch("done-%d" % phase)
while True:
    time.sleep(3600)
