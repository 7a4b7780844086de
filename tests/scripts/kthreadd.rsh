# kthreadd (seed 002): listed in `ps` (tid 2, as in Linux), it creates every later thread (ppid),
# so a new thread starts from its clean state (default priority, any CPU) whatever the shell's
# (priority 31, bound to CPU 0), and it refuses park and stop (EPERM).
#   just script tests/scripts/kthreadd.rsh          -> two EPERM errors, exits 0
spawn spin s
spawn counter c --cpu 2 --prio 5
echo == made
ps --json
park kthreadd
stop kthreadd
wait kthreadd sleeping
stop s
stop c
echo done
