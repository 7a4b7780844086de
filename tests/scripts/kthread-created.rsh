# A kthread created but never woken never runs its function: `stop` gives -EINTR (-4).
#   just script tests/scripts/kthread-created.rsh        -> prints `s: result -4`, exits 0
set -e
spawn spin s --created
wait s created --timeout 0
ps
stop s
