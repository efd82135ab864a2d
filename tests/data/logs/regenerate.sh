#!/bin/sh
# Regenerate the real pdflatex logs in this folder: ./regenerate.sh [case...]
#
# Each case is a folder holding problem1.tex (and any file it inputs); main.tex is the one in
# this folder unless the case has its own. pdflatex runs the way hwbuild's runner does: long log
# lines, -file-line-error, -halt-on-error (unless the case has a pdflatex-flags file).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
[ "$#" -gt 0 ] || set -- $(ls -d */ | tr -d /)
for case in "$@"; do
    work=$(mktemp -d)
    cp "$here/main.tex" "$work/"
    cp "$here/$case/"*.tex "$work/"
    flags="-interaction=nonstopmode -halt-on-error -file-line-error -no-shell-escape"
    [ -f "$here/$case/pdflatex-flags" ] && flags=$(cat "$here/$case/pdflatex-flags")
    # shellcheck disable=SC2086
    (cd "$work" && max_print_line=10000 error_line=254 half_error_line=238 \
        pdflatex $flags main.tex </dev/null >/dev/null 2>&1) || true
    cp "$work/main.log" "$here/$case.log"
    rm -rf "$work"
    echo "$case.log"
done
