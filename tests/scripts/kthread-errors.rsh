# Every kthread error: each failing command prints one `error: ...` line, then `st=<status>`
# (1 at run time, 2 for a bad argument).
#   just script tests/scripts/kthread-errors.rsh         -> exits 0
park nosuch
echo st=$?
spawn counter c --cpu 9
echo st=$?
spawn sleeper z
wait z sleeping
bind z 9
echo st=$?
bind z 1
echo st=$?
spawn sleeper z
echo st=$?
spawn exit e --result 42
wait e exited
park e
echo st=$?
stop e
echo st=$?
stop e
echo st=$?
stop z
