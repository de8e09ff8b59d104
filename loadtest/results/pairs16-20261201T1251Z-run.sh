#!/bin/bash
# Alternate quick bench runs: base (8b1297b) then new (bench16), three pairs.
for i in 1 2 3; do
  for side in base new; do
    if [ $side = base ]; then dir=/work/wt/base; else dir=/work/wt/bench16; fi
    echo "$(date -u +%T) start $side $i load $(cut -d' ' -f1-3 /proc/loadavg)" >> /tmp/pairs/order.log
    (cd $dir && timeout 420 .venv/bin/python -m loadtest.bench --quick --out /tmp/pairs/$side > /tmp/pairs/$side-$i.log 2>&1)
    echo "$(date -u +%T) end $side $i rc=$? load $(cut -d' ' -f1-3 /proc/loadavg)" >> /tmp/pairs/order.log
  done
done
echo done >> /tmp/pairs/order.log
