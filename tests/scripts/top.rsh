# top: frames of a known load. A spinning thread on CPU 1 keeps it busy, a kthread worker
# runs a queued chain, and `top -n 2` prints two frames; `top -n 1 --json` one JSON object.
spawn spin hot --cpu 1
kworker create tkw
kworker queue tkw a --fn busy:300
kworker queue tkw b --fn count
top -n 2
top -n 1 --json -d 500ms
stop hot
exit
