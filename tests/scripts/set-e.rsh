# check: status=2
# `set -e`: the first failing command ends the script with its status.
# `sleep bogus` is a usage error (status 2), so this exits 2 and MARKER never prints.
set -e
echo before
expect '^before$'
sleep bogus
echo MARKER
poweroff 0
