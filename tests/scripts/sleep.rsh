# check: skip=the runner's timeout test uses it (it sleeps 10 s)
# Sleeps 10 s. With `--timeout 3` the runner kills QEMU and exits 124:
#   just script tests/scripts/sleep.rsh virt --timeout 3
echo sleeping
sleep 10s
echo woke
