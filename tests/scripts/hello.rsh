# Smoke test: print, show the uptime and the UART statistics, power off with status 3.
#   just script tests/scripts/hello.rsh        -> prints `hi`, exits 3
echo hi
uptime
uart
poweroff 3
