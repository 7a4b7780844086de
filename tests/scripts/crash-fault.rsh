# check: status=101
# A data abort in the kernel: prints a `KERNEL PANIC` line, the thread that ran (the shell) and the
# fault registers; exits 101.
echo crashing
crash fault
echo never
