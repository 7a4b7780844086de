# Lowering the priority of a thread that runs on another CPU below a thread ready there hands
# that CPU over at once: the spinner has no preemption point, so only the reschedule interrupt
# sent to its CPU (or its next timer interrupt) can (issue 15; lowering its own priority is tested
# on the host).
#   just script tests/scripts/prio-remote.rsh       -> exits 0
set -e
spawn spin hog --cpu 2 --prio 8
spawn counter low --cpu 2 --period 1ms --prio 5
wait hog running
sleep 50ms
echo == starved
ps low -o state
prio hog 2
wait low sleeping --timeout 200ms
echo == handed over
stop hog
stop low
echo done
