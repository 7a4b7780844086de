# Hard-IRQ `log` lines never land inside another command's output (issue 11, item 8): log
# irq_works run on CPUs 1-3 behind busy irq_works of 2 to 10 ms while listings print; each
# listing stays whole, and every log line appears (between commands, or during `sleep`).
#   just script tests/scripts/log-interleave.rsh        -> exits 0
irqwork queue b1 --fn busy:2 --cpu 1
irqwork queue l1 --fn log --cpu 1
irqwork queue b2 --fn busy:5 --cpu 2
irqwork queue l2 --fn log --cpu 2
irqwork queue b3 --fn busy:10 --cpu 3
irqwork queue l3 --fn log --cpu 3
help
work list --json
ps --json
help
irqwork queue b1 --cpu 1
irqwork queue l1 --cpu 1
irqwork queue b2 --cpu 2
irqwork queue l2 --cpu 2
irqwork queue b3 --cpu 3
irqwork queue l3 --cpu 3
work list --json
help
work list --json
help
sleep 100ms
echo done
