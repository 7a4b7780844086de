# A counter bound to CPU 2 counts (and runs) while it is not parked, and stops counting while
# parked. Each `ps --json` is preceded by a marker line `== <label>` for the test to read.
#   just script tests/scripts/kthread-counter.rsh        -> ends with `c: result N`, exits 0
set -e
spawn counter c --cpu 2
sleep 500ms
ps
echo == running-1
ps --json
sleep 500ms
echo == running-2
ps --json
park c
wait c parked --timeout 0
echo == parked-1
ps --json
sleep 500ms
echo == parked-2
ps --json
unpark c
sleep 500ms
echo == unparked
ps --json
stop c
echo == stopped
ps --json
