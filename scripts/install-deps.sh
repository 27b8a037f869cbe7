#!/bin/sh
# install-deps.sh installs, from Debian's packages, what building and
# testing Palisade needs and the machine lacks.
set -eu

need=""
command -v gcc >/dev/null 2>&1 || need="$need gcc"
[ -e /usr/lib/x86_64-linux-gnu/libc.a ] || need="$need libc6-dev"
[ -x /usr/bin/python3 ] || need="$need python3-minimal"
command -v make >/dev/null 2>&1 || need="$need make"
# The end-to-end tests run these programs inside the sandbox.
command -v ps >/dev/null 2>&1 || need="$need procps"
command -v git >/dev/null 2>&1 || need="$need git"
command -v script >/dev/null 2>&1 || need="$need bsdutils"
[ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import sqlite3, multiprocessing' >/dev/null 2>&1 || need="$need python3"

if [ -n "$need" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "install-deps: need root to install:$need" >&2
		exit 1
	fi
	echo "install-deps: installing$need"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $need >/dev/null
fi
if ! command -v go >/dev/null 2>&1; then
	echo "install-deps: Go is not installed (need Go 1.26)" >&2
	exit 1
fi
