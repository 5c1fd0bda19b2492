# helpers for the spike
S=/tmp/repl_spike
P=(x 127.0.0.11:47011 127.0.0.12:47012 127.0.0.13:47013)
peers() { local o=(); for j in 1 2 3; do [ $j != $1 ] && o+=(${P[$j]}); done; local IFS=,; echo "${o[*]}"; }
startnode() { $S node /tmp/sp/n$1 ${P[$1]} $(peers $1) 100 >> /tmp/sp/n$1.log 2>&1 & echo $! > /tmp/sp/n$1.pid; }
master() { for j in 1 2 3; do tail -200 /tmp/sp/n$j.log | grep "role" | tail -1 | grep -q master && echo $j; done; }
