# Named works can be released, lazy irq_works go to another CPU, and nmi-current is reachable:
# - `work delete` forgets an idle work (its name is free again) and refuses a busy one (EBUSY);
# - `irqwork queue --lazy --cpu N` raises CPU N at once, as Linux's irq_work_queue_on does;
# - `taskwork nmi <cpu> <work>`: a hard IRQ on <cpu> adds <work> with nmi-current to the thread
#   it interrupted (here the spinner s), which runs it on the way out of the interrupt.
#   just script tests/scripts/work-release.rsh        -> exits 0 (no `set -e`: errors expected)
irqwork queue a --fn count --cpu 1
wait work a runs >= 1
work delete a
irqwork queue a --fn busy:1
wq create q
wq delay q d 5s --fn count --cpu 1
work delete d
wq cancel d
work delete d
wq destroy q
irqwork queue lz --lazy --cpu 3 --fn count
wait work lz runs >= 1 --timeout 1s
spawn spin s --cpu 2
wait s running
taskwork nmi 2 tn --fn log
wait work tn runs >= 1 --timeout 2s
taskwork add s x --notify nmi-current --fn count
stop s
echo == released
work list --json
echo done
