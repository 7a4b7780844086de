# Fault injection (issue 15): every allocating command, run while the kernel's allocation sites
# fail, returns ENOMEM, leaves nothing half-built (`mem` reads as before) and works once the
# injection stops.
#   just script tests/scripts/inject.rsh   -> 15 ENOMEM errors after `== walk`, none after
#                                             `== again`; every pool the same in the four
#                                             `mem --json` lines, the heap about the same
spawn sleeper tw
wq create wq0
kworker create kw0
round() {
    spawn sleeper ia
    wq create iq
    wq create is --single
    kworker create ik
    irqwork queue ii --fn count
    taskwork add tw it --notify none --fn count
    wq queue wq0 iw --fn count
    kworker queue kw0 ikw --fn count
    stress wq 50
    stress irqwork 50
    stress kworker 20
}
undo() {
    stop ia
    wq destroy iq
    wq destroy is
    kworker destroy ik
    irqwork sync ii
    taskwork cancel tw it
    wq flush wq0
    kworker flush kw0
    work delete ii
    work delete it
    work delete iw
    work delete ikw
}
walk() {
    inject alloc-fail --next 1
    spawn sleeper ia
    inject alloc-fail --next 1
    wq create iq
    inject alloc-fail --every 3
    wq create iq
    inject alloc-fail --next 1
    wq create is --single
    inject alloc-fail --next 1
    kworker create ik
    inject alloc-fail --next 1
    irqwork queue ii --fn count
    inject alloc-fail --every 2
    irqwork queue ii --fn count
    inject alloc-fail --next 1
    taskwork add tw it --notify none --fn count
    inject alloc-fail --next 1
    wq queue wq0 iw --fn count
    inject alloc-fail --next 1
    kworker queue kw0 ikw --fn count
    inject alloc-fail --next 1
    stress wq 50
    inject alloc-fail --next 1
    stress irqwork 50
    inject alloc-fail --next 1
    stress kworker 20
    inject alloc-fail --every 3
    stress kworker 20
    inject alloc-fail --every 1 --cpu 0
    stress irqwork 50 --cpus 1
    inject off
}
# Warm-up: three rounds fill what stays (interned trace names, the history, tables grown to
# the most that was ever queued at once), so the readings below compare like with like.
repeat 3 do
    round
    undo
done
sleep 100ms
dmesg -c
mem --json
echo == walk
walk
echo == walked
sleep 100ms
dmesg -c
mem --json
# Twenty more walks (300 more failed allocations): a site that leaked even a small object
# each time would add kilobytes between these two readings.
repeat 20 do
    walk
done
sleep 100ms
dmesg -c
mem --json
echo == again
round
undo
echo == done
sleep 100ms
dmesg -c
mem --json
stop tw
wq destroy wq0
kworker destroy kw0
