# 16 kthreads over 4 CPUs, 4 on each: park each and see it parked, unpark each and see it
# run again on its CPU, then stop each and print its result. A spinner (priority 5, so that
# the other threads on its CPU preempt it when they wake) on CPU 3, sleepers and counters.
#   just script tests/scripts/kthread-16.rsh             -> 16 `<name>: result N` lines, exits 0
set -e
spawn sleeper y0 --cpu 0 --prio 12
spawn sleeper z0 --cpu 0
spawn counter c0 --cpu 0 --period 5ms
spawn counter d0 --cpu 0 --period 20ms --prio 12
spawn sleeper y1 --cpu 1 --prio 12
spawn sleeper z1 --cpu 1
spawn counter c1 --cpu 1 --period 5ms
spawn counter d1 --cpu 1 --period 20ms --prio 12
spawn sleeper y2 --cpu 2 --prio 12
spawn sleeper z2 --cpu 2
spawn counter c2 --cpu 2 --period 5ms
spawn counter d2 --cpu 2 --period 20ms --prio 12
spawn spin s3 --cpu 3 --prio 5
spawn sleeper z3 --cpu 3
spawn counter c3 --cpu 3 --period 5ms
spawn counter d3 --cpu 3 --period 20ms --prio 12
ps
wait y0 sleeping
wait z0 sleeping
wait c0 sleeping
wait d0 sleeping
wait y1 sleeping
wait z1 sleeping
wait c1 sleeping
wait d1 sleeping
wait y2 sleeping
wait z2 sleeping
wait c2 sleeping
wait d2 sleeping
wait s3 running
wait z3 sleeping
wait c3 sleeping
wait d3 sleeping
park y0
wait y0 parked --timeout 0
park z0
wait z0 parked --timeout 0
park c0
wait c0 parked --timeout 0
park d0
wait d0 parked --timeout 0
park y1
wait y1 parked --timeout 0
park z1
wait z1 parked --timeout 0
park c1
wait c1 parked --timeout 0
park d1
wait d1 parked --timeout 0
park y2
wait y2 parked --timeout 0
park z2
wait z2 parked --timeout 0
park c2
wait c2 parked --timeout 0
park d2
wait d2 parked --timeout 0
park s3
wait s3 parked --timeout 0
park z3
wait z3 parked --timeout 0
park c3
wait c3 parked --timeout 0
park d3
wait d3 parked --timeout 0
echo == all-parked
ps --json
unpark y0
wait y0 sleeping
unpark z0
wait z0 sleeping
unpark c0
wait c0 sleeping
unpark d0
wait d0 sleeping
unpark y1
wait y1 sleeping
unpark z1
wait z1 sleeping
unpark c1
wait c1 sleeping
unpark d1
wait d1 sleeping
unpark y2
wait y2 sleeping
unpark z2
wait z2 sleeping
unpark c2
wait c2 sleeping
unpark d2
wait d2 sleeping
unpark s3
wait s3 running
unpark z3
wait z3 sleeping
unpark c3
wait c3 sleeping
unpark d3
wait d3 sleeping
sleep 100ms
echo == all-running
ps --json
stop y0
stop z0
stop c0
stop d0
stop y1
stop z1
stop c1
stop d1
stop y2
stop z2
stop c2
stop d2
stop s3
stop z3
stop c3
stop d3
echo == all-stopped
ps --json
