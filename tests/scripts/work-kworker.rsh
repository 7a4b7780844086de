# kthread workers on the real kernel: `kworker mod` moves a deadline (earlier, then later), a
# cancelled delayed work reports pending=true and never runs, flush-work waits for busy:200
# (pending=true: it waited).
#   just script tests/scripts/work-kworker.rsh         -> exits 0
set -e
kworker create k --cpu 1
kworker delay k m 5s --fn count
kworker mod k m 100ms
wait work m runs >= 1 --timeout 2s
kworker delay k l 50ms --fn count
kworker mod k l 1s
sleep 250ms
echo == moved
work list --json
wait work l runs >= 1 --timeout 2s
kworker delay k x 1s --fn count
timers
kworker cancel x
sleep 1200ms
echo == cancelled
work list --json
kworker queue k b --fn busy:200
kworker flush-work b
echo == flushed
work list --json
kworker destroy k
echo done
