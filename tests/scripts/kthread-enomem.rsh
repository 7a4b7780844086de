# Too many kthreads: create `--created` threads until the kernel says ENOMEM (its thread table
# holds 256, the shell's own thread included), then stop them all (each gives -4, EINTR).
#   just script tests/scripts/kthread-enomem.rsh         -> one ENOMEM error, exits 0
for i in 0..255; do spawn exit e$i --created; done
expect '\(ENOMEM\)$'
echo == spawned
ps
for i in 0..255; do stop e$i; done
echo == stopped
ps
echo done
