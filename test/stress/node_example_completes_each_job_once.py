#!/usr/bin/python3
"""examples/node: the example producer and Node.js workers, end to end. 400
jobs, 4 worker processes: one frozen (SIGSTOP) past its lease, whose
completions must come back refused and be logged as "lease lost"; one
SIGKILLed in the middle of a job, whose jobs others must reclaim; a server
restart; one stopped with SIGTERM while busy, which must exit 0 owning
nothing. Every job completes, each exactly once; polling finds jobs that
become due later and LISTEN wakes idle workers at once. The scenario and
every check: test/stress/lib/example_workers.py.

Runs inside test/run.sh (PGHOST, PGPORT, PGUSER, CLUSTER_DIR exported).
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
from example_workers import run  # noqa: E402

sys.exit(run("node"))
