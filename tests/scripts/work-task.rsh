# task_work on the real kernel, one thread per notify mode: none runs only at stop, resume only
# after unpark, signal and signal-no-ipi wake a sleeper (which otherwise sleeps for an hour: a
# resume add leaves it asleep); adding to an exited thread is ESRCH.
#   just script tests/scripts/work-task.rsh         -> exits 0
spawn sleeper s
wait s sleeping
taskwork add s n --notify none --fn count
sleep 100ms
echo == before-stop
work list --json
stop s
echo == after-stop
work list --json
spawn sleeper p
wait p sleeping
park p
taskwork add p r --notify resume --fn count
sleep 100ms
echo == parked
work list --json
unpark p
wait work r runs >= 1
taskwork add p g --notify signal --fn log
wait work g runs >= 1
taskwork add p q --notify signal-no-ipi --fn count
wait work q runs >= 1
stop p
spawn sleeper w
wait w sleeping
taskwork add w r2 --notify resume --fn count
sleep 300ms
echo == resume-asleep
work list --json
taskwork add w g2 --notify signal --fn count
wait work g2 runs >= 1 --timeout 2s
wait work r2 runs >= 1 --timeout 1s
wait w sleeping
taskwork add w r3 --notify resume --fn count
sleep 300ms
echo == resume-asleep-2
work list --json
taskwork add w q2 --notify signal-no-ipi --fn count
wait work q2 runs >= 1 --timeout 2s
wait work r3 runs >= 1 --timeout 1s
echo == signalled
work list --json
stop w
spawn exit e
wait e exited
taskwork add e x --fn count
echo st=$?
