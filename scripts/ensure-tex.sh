#!/bin/sh
# Install TeX Live from Debian's packages when latexmk or pdflatex is missing.
# As root it runs apt-get; otherwise it prints the exact command and fails.
set -eu
PACKAGES="latexmk texlive-latex-recommended texlive-latex-extra texlive-fonts-recommended texlive-pictures texlive-science lmodern poppler-utils"

if command -v latexmk >/dev/null 2>&1 && command -v pdflatex >/dev/null 2>&1 \
   && command -v pdftotext >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "TeX Live is missing. Install it with:" >&2
    echo "  sudo sh -c 'apt-get update && apt-get install -y --no-install-recommends $PACKAGES'" >&2
    exit 4
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "TeX Live is missing and this is not a Debian-like system: install latexmk, pdflatex" >&2
    echo "(TeX Live with the packages: $PACKAGES) and poppler's pdftotext by hand." >&2
    exit 4
fi
echo "installing TeX Live (latexmk, pdflatex) from Debian's packages..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null
echo "TeX Live installed." >&2
