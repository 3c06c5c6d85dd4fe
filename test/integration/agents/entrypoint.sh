#!/bin/sh
# An image's entrypoint script: setup commands, then the framework as a child (no exec), then cleanup.
mkdir -p "$1/setup"
python3 "$(dirname "$0")/agent.py" subprocess "$1"
echo "framework exited"
