# One of each deferred-work kind, traced: an irq_work queued on another CPU (an SGI there, run in
# hard-IRQ context), a task_work on a sleeping thread (run by that thread), a work on a
# workqueue's CPU 1 worker, a delayed one (a timer, then the worker) and one that sleeps 2 ms in
# its callback, a kthread worker's work.
#   just trace tests/scripts/trace-demo.rsh       -> the .json (Perfetto) and .ctf beside it
#   just script tests/scripts/trace-demo.rsh      -> shows the events as text
set -e
spawn sleeper target --cpu 2
wait target sleeping
trace start
trace mark demo begins
irqwork queue iw --cpu 1 --fn count
wait work iw runs >= 1
taskwork add target tw --notify signal --fn count
wait work tw runs >= 1
wq create demo
wq queue demo ww --cpu 1 --fn count
wait work ww runs >= 1
wq delay demo dw 20ms --cpu 1 --fn count
wait work dw runs >= 1
wq queue demo ws --cpu 1 --fn sleep:20
wait work ws runs >= 1
kworker create kw
kworker queue kw kw1 --fn count
wait work kw1 runs >= 1
trace mark demo ends
trace stop
trace stats
trace show --last 60
trace dump
stop target
