# 16 kthreads over 4 CPUs, 4 on each: park each and see it parked, unpark each and see it
# run again on its CPU, then stop each and print its result. A spinner (priority 5, so that
# the other threads on its CPU preempt it when they wake) on CPU 3, sleepers and counters.
#   just script tests/scripts/kthread-16.rsh             -> 16 `<name>: result N` lines, exits 0
set -e
# On each CPU: y (a sleeper; on CPU 3 the spinner s3 instead), z, c and d, in this order.
for cpu in 0..3; do
  if [ $cpu -eq 3 ]; then
    spawn spin s3 --cpu 3 --prio 5
  else
    spawn sleeper y$cpu --cpu $cpu --prio 12
  fi
  spawn sleeper z$cpu --cpu $cpu
  spawn counter c$cpu --cpu $cpu --period 5ms
  spawn counter d$cpu --cpu $cpu --period 20ms --prio 12
done
ps
threads="y0 z0 c0 d0 y1 z1 c1 d1 y2 z2 c2 d2 s3 z3 c3 d3"
# What each waits in when it runs: the spinner never sleeps.
state() { if [ $1 = s3 ]; then echo running; else echo sleeping; fi; }
for t in $threads; do wait $t $(state $t); done
for t in $threads; do
  park $t
  wait $t parked --timeout 0
done
echo == all-parked
ps --json
for t in $threads; do
  unpark $t
  wait $t $(state $t)
done
sleep 100ms
echo == all-running
ps --json
for t in $threads; do stop $t; done
echo == all-stopped
ps --json
