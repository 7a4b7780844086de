# The watchdog (issue 12 item 6): a hog on the shell's CPU at the highest priority a user may
# give is a soft lockup; a 3 s busy work is a hung work; a 2.5 s busy irq_work on CPU 0 masks
# that CPU: a hung irq_work and a hard lockup, reported from another CPU. Each report is a
# `WATCHDOG: ` line, and the shell answers after each.
#   just script tests/scripts/watchdog.rsh --fail-on-watchdog   -> the reports, exits 123
watchdog
spawn hog h --cpu 0 --prio 30
sleep 3s
echo alive-hog
wq create q
wq queue q b --fn busy:3000 --cpu 1
sleep 3200ms
echo alive-work
irqwork queue ib --fn busy:2500
echo alive-irq
sleep 500ms
watchdog
watchdog --soft 100ms
watchdog maybe
watchdog off --hung 5s
watchdog
