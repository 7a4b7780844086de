# check: status=101
# A kthread that recurses into its stack's guard page: the fault is caught on the way into the
# exception handler and reported as `KERNEL PANIC on cpuN: stack overflow in thread overflow`.
echo crashing
crash overflow
echo never
