# Too many kthreads: create `--created` threads until the kernel says ENOMEM (its thread table
# holds 256, the shell's own thread included), then stop them all (each gives -4, EINTR). Then
# the same again (the table and the stack pool are not exhausted for good): as many fit, and
# `mem` reads the same before and after.
#   just script tests/scripts/kthread-enomem.rsh         -> one ENOMEM error a round, exits 0
mem --json
for i in 0..255; do spawn exit e$i --created; done
expect '\(ENOMEM\)$'
echo == spawned
ps
for i in 0..255; do stop e$i; done
echo == stopped
ps
for i in 0..255; do spawn exit f$i --created; done
expect '\(ENOMEM\)$'
echo == spawned again
for i in 0..255; do stop f$i; done
mem --json
echo done
