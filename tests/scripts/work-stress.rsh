# 10,000 irq_works and 10,000 works (on `events`) queued concurrently from every CPU: each runs
# exactly once, on the CPU it was queued for, and every CPU takes part. Each line ends in
# `error: stress: ...` (status 1, ending the script) if not. The QEMU tests run it under
# `-icount` on both boards (virtual time: about 0.3 s in the guest, 0.5 s of wall time) and with
# multi-threaded TCG on both (0.1-3 s alone, more on a busy host: hence 60 s).
#   just script tests/scripts/work-stress.rsh         -> exits 0
set -e
stress irqwork 10000 --timeout 60s
stress wq 10000 --timeout 60s
echo done
