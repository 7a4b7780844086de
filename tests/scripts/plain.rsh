# A transcript that is the same on every run and on both boards: the QEMU test `diff`s it, from
# the first prompt on, against tests/scripts/plain.expected (LF line ends, no escape sequences).
echo hello
x=6
echo $((x * 7))
help sleep
sleep bogus
for i in 1..3; do echo line $i; done
