# Nothing a user starts takes the console away (issue 12 item 7): the shell runs at the system
# priority (31), above anything `spawn` and `prio` give (at most 30), and cannot be lowered; a
# work that re-queues itself forever on the shell's CPU runs on, bounded per interrupt; a kthread
# worker's thread parked or stopped leaves its works reported, not the console stuck.
# The watchdog names each culprit within 3 s (a WATCHDOG: line before the next `alive-*`).
#   just script tests/scripts/console-safety.rsh        -> every `alive-*` line, exits 0
spawn hog h0 --cpu 0 --prio 30
sleep 3s
echo alive-hog
# One spinner bound to each other CPU (so at least one keeps a CPU alone, which is what the
# watchdog calls a soft lockup: two sharing a CPU each get half), and one placed by the scheduler.
spawn spin s1 --cpu 1 --prio 30
spawn spin s2 --cpu 2 --prio 30
spawn spin s3 --cpu 3 --prio 30
spawn spin s4 --prio 30
sleep 3s
echo alive-spins
prio shell 0
echo prio=$?
irqwork queue storm --cpu 0 --fn requeue:4000000000
sleep 3s
echo alive-storm
irqwork list
kworker create kw --cpu 1
kworker queue kw kwork --fn count
stop kw
echo stop=$?
park kw
echo park=$?
echo alive-kworker
ps
