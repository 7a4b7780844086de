# Nothing leaks across create/destroy cycles (issue 15): 1,250 rounds, each making, using and
# destroying a thread, a workqueue (a thread per CPU), a kthread worker and three named works
# (over 10,000 object lifetimes), leave the heap and every pool where they were after 200
# warm-up rounds (which fill what stays: interned trace names, tables grown to their size).
#   just script tests/scripts/mem-cycles.rsh         -> two `mem --json` lines, the same
# check: timeout=300
set -e
cycle() {
    out=$(spawn sleeper cyc)
    out=$(stop cyc)
    wq create cq
    wq queue cq cw --fn count
    wq flush cq
    wq destroy cq
    kworker create ck
    kworker queue ck kw --fn count
    kworker flush ck
    kworker destroy ck
    irqwork queue ci --fn count
    wait work ci runs >= 1
    work delete cw
    work delete kw
    work delete ci
}
repeat 200 do
    cycle
done
mem --json
n=0
repeat 1250 do
    cycle
    n=$((n + 1))
done
echo cycles=$n
mem --json
