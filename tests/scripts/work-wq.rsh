# Workqueues on the real kernel: a delayed work fires after its delay and not before, and a flush
# waits for a busy:200 work.
#   just script tests/scripts/work-wq.rsh         -> exits 0
set -e
wq create q
wq delay q d 600ms --fn count
sleep 150ms
echo == early
work list --json
wait work d runs >= 1 --timeout 2s
echo == late
work list --json
wq queue q b --fn busy:200 --cpu 2
wq flush q
echo == flushed
work list --json
wq list
wq destroy q
echo done
