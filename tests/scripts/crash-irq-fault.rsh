# check: status=101
# A data abort in hard-IRQ context (an irq_work callback that faults): the report says so and
# names the thread the interrupt interrupted (the shell); exits 101.
echo crashing
crash irq-fault
echo never
