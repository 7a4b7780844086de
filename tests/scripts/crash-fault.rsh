# A data abort in the kernel: prints a `KERNEL PANIC` line with the fault registers, exits 101.
echo crashing
crash fault
echo never
