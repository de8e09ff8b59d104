#!/bin/bash
# Alternate loadtest/cached_cpu.py on 8b1297b (base) and bench16 (new), four rounds.
OUT=/work/wt/bench16/loadtest/results/cached-cpu16-$(date -u +%Y%m%dT%H%MZ).jsonl
for i in 1 2 3 4; do
  for side in base new; do
    if [ $side = base ]; then dir=/work/wt/base; else dir=/work/wt/bench16; fi
    r=$(cd $dir && PYTHONPATH=$dir timeout 120 .venv/bin/python /work/wt/bench16/loadtest/cached_cpu.py 5 2>/tmp/cab/$side-$i.err)
    echo "{\"side\": \"$side\", \"round\": $i, \"load_1m\": $(cut -d' ' -f1 /proc/loadavg), \"r\": $r}" >> $OUT
  done
done
echo done > /tmp/cab/done2
