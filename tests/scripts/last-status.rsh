# check: status=2
# Running off the end of a script exits with the last command's status (the runner sends
# `exit` after the last line). `sleep bogus` is a usage error: this exits 2.
echo ok
expect '^ok$'
sleep bogus
