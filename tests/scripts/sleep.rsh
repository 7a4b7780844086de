# Sleeps 10 s. With `--timeout 3` the runner kills QEMU and exits 124:
#   just script tests/scripts/sleep.rsh virt --timeout 3
echo sleeping
sleep 10s
echo woke
