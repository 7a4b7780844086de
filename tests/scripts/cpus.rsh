# Per-CPU table; the banner above it says how many CPUs came online.
#   just script tests/scripts/cpus.rsh virt --smp 8     -> `cpus: 8/8 online`
cpus
