# check: status=3
# Smoke test: print, show the uptime and the UART statistics, power off with status 3.
#   just script tests/scripts/hello.rsh        -> prints `hi`, exits 3
echo hi
expect '^hi$'
uptime
expect '^up [0-9]+:[0-9]{2}:[0-9]{2}\.[0-9]{3}$'
uart
expect '^pl011: 115200 baud 8N1, rx errors 0, rx buffer '
poweroff 3
