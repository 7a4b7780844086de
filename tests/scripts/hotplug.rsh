# CPU hotplug (issue 11): `cpu offline` / `cpu online` with nothing lost.
# - a per-CPU counter on cpu3 is parked while cpu3 is offline and runs again after (seed 002);
# - a work delayed onto cpu2's worker fires while cpu2 is offline: the worker, unbound meanwhile,
#   runs it on an online CPU;
# - the refusals: cpu0 (EPERM), a CPU that does not exist, one already offline or online (EINVAL),
#   and --cpu naming an offline CPU;
# - `stress` takes a CPU offline and back while 10000 works run: each runs exactly once.
#   just script tests/scripts/hotplug.rsh        -> six errors, exits 0
spawn counter c --cpu 3 --period 10ms
wait c sleeping
cpu offline 3
echo == c-offline
ps --json
cpus
wq create q
wq delay q d 1s --fn count --cpu 2
cpu offline 2
wait work d runs >= 1 --timeout 5s
echo == d-ran
work list --json
cpu offline 0
cpu offline 9
cpu offline 2
spawn spin s --cpu 2
irqwork queue i --cpu 2
cpu online 2
cpu online 2
cpu online 3
sleep 100ms
echo == c-online
ps --json
cpus
stop c
wq destroy q
stress wq 10000 --offline 2
stress irqwork 10000 --offline 2
stress kworker 10000 --offline 1
cpus
echo done
