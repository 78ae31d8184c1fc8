#!/bin/bash
# one process per method: DATA K METHODS...
d=$1; k=$2; shift 2
for m in "$@"; do PYTHONPATH=/work/wt-km timeout 200 /work/main/.venv/bin/python /tmp/km/compare.py $d $k $m 2>&1 | grep -v WARN; done
