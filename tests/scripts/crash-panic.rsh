# check: status=101
# A Rust panic in the kernel: prints a `KERNEL PANIC` line, exits 101.
echo crashing
crash panic
echo never
