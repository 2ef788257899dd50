#!/bin/sh
# Every public header compiles on its own: a file that includes only it and
# nothing else builds without warnings.
# Usage: headers.sh SOURCE_ROOT CC [CC ARGS...]
set -u
root=$1; shift
cd "$root" || exit 1
fails=0; n=0
for h in $(find common av capture encode net gamestream audio input client server host bench \
           -name '*.h' 2>/dev/null | sort); do
  n=$((n + 1))
  if ! printf '#include "%s"\n' "$h" |
       "$@" -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -fsyntax-only -I. -I"$root" -x c - ; then
    echo "header does not compile alone: $h"
    fails=$((fails + 1))
  fi
done
echo "$((n - fails)) passed, $fails failed"
[ "$fails" -eq 0 ]
