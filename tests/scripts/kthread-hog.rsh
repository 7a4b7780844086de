# A `hog` spins without ever polling its stop or park requests: `park` and `stop` time out
# (error, status 1), the stop request stays (`stopping`), and the shell stays usable.
#   just script tests/scripts/kthread-hog.rsh            -> ends with `alive`, exits 0
spawn hog h
wait h running
sleep 200ms
park h --timeout 500ms
echo park=$?
bind h 1
echo bind=$?
stop h --timeout 500ms
echo stop=$?
ps --json
wait h stopping --timeout 0
echo wait=$?
echo alive
