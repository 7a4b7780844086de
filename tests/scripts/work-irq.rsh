# irq_work on the real kernel: a work queued twice before it runs runs once (CPU 1 is busy for
# 500 ms in a hard-IRQ callback meanwhile: we wait until that callback is really running, or the
# first `c` could join the same run pass and run before the second queue), `--cpu 3` runs on
# CPU 3, and a `log` work in hard-IRQ context is printed by klogd.
#   just script tests/scripts/work-irq.rsh         -> exits 0
irqwork queue hog --fn busy:500 --cpu 1
wait work hog state running
irqwork queue c --fn count --cpu 1
irqwork queue c --cpu 1
echo st=$?
wait work c runs >= 1
irqwork sync hog
irqwork queue t --fn count --cpu 3
wait work t runs >= 1
irqwork queue lg --fn log --cpu 2
wait work lg runs >= 1
sleep 200ms
echo == list
work list --json
echo == cpus
cpus
irqwork list
