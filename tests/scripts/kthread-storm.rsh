# check: timeout=120
# A storm of 1,000 park/unpark pairs over 12 kthreads spread over the 4 CPUs (10 counters, a
# spinner at priority 5, a sleeper), then every thread must still answer: park and unpark it
# once more, see the counters count, and stop each one (12 results). Pair n goes to thread
# (7 * n) mod 12. (One spinner only: each one keeps a CPU busy, which QEMU pays for.)
#   just script tests/scripts/kthread-storm.rsh          -> 12 `<name>: result N` lines, exits 0
set -e
for i in 0..9; do spawn counter c$i --cpu $((i % 4)) --period 250us; done
spawn spin s3 --cpu 3 --prio 5
spawn sleeper z1 --cpu 1
threads="c0 c1 c2 c3 c4 c5 c6 c7 c8 c9 s3 z1"
pairs=0
for n in 0..999; do
  k=$(( (7 * n) % 12 ))
  if [ $k -lt 10 ]; then t=c$k; elif [ $k -eq 10 ]; then t=s3; else t=z1; fi
  park $t
  unpark $t
  pairs=$((pairs+1))
done
echo == storm-done $pairs
expect '^== storm-done 1000$'
for t in $threads; do
  park $t --timeout 1s
  wait $t parked --timeout 0
  unpark $t
done
echo == before
ps --json
sleep 100ms
echo == after
ps --json
for t in $threads; do stop $t; done
echo == stopped
ps --json
