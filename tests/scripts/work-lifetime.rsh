# Work that is never lost (issue 11's defects, replayed; each must give the right result):
# - `kworker mod` aimed at a second worker is refused (EBUSY, naming the first) and changes
#   nothing: the first worker still runs the work, and both destroys succeed;
# - `wq destroy` with an armed delayed work cancels it and says so; the work is idle and usable;
# - destroy drains a work that queues itself again (requeue:1000 runs 1001 times);
# - `stop` on a worker's thread is refused (EPERM, naming `kworker destroy`), no `stopping` thread;
# - `wq cancel`, `wq flush-work`, `wq mod` print pending=true|false as Linux returns.
#   just script tests/scripts/work-lifetime.rsh        -> exits 0 (no `set -e`: errors expected)
kworker create k1
kworker create k2
kworker delay k1 w 300ms --fn count
kworker mod k2 w 10ms
kworker destroy k2
wait work w runs >= 1 --timeout 3s
kworker destroy k1
echo == mod-refused
work list --json
wq create q
wq delay q d 5s --fn count --cpu 1
wq destroy q
echo == destroyed-delayed
work list --json
wq create q
wq queue q d
wq flush q
wq queue q r --fn requeue:1000 --cpu 2
wq destroy q
echo == drained
work list --json
kworker create k3 --cpu 3
kworker queue k3 b --fn busy:100
stop k3 --timeout 3s
kworker queue k3 x --fn count
ps
kworker destroy k3
wq create c
wq delay c m 5s --fn count --cpu 1
wq mod c m 20ms --cpu 2
wait work m runs >= 1 --timeout 3s
wq delay c n 5s --fn count
wq cancel n
wq cancel n --sync
wq queue c f --fn busy:100 --cpu 3
wq flush-work f
wq flush-work f
wq destroy c
echo == wq-api
work list --json
echo done
