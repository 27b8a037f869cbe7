#!/usr/bin/env bash
# run.sh builds the syscall conformance programs (test/syscalls/*.c) and runs
# each one natively and then under runsc. Both runs must exit 0.
#
# Usage: test/syscalls/run.sh [path/to/runsc]      (default: <repo>/bin/runsc)
# SYSCALL_TESTS=mmap,brk limits the run to those programs.
# SYSCALL_TIMEOUT (seconds, default 60) bounds each run.
set -u

dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$dir/../.." && pwd)
build="$dir/build"
timeout_s=${SYSCALL_TIMEOUT:-60}

runsc=${1:-$root/bin/runsc}
case $runsc in
/*) ;;
*) runsc="$PWD/$runsc" ;;
esac

mkdir -p "$build" || exit 2

# The list of programs, optionally filtered by SYSCALL_TESTS.
all=()
for src in "$dir"/*.c; do
	[ -e "$src" ] || continue
	all+=("$(basename "$src" .c)")
done
names=()
unknown=()
if [ -n "${SYSCALL_TESTS:-}" ]; then
	IFS=',' read -r -a wanted <<<"$SYSCALL_TESTS"
	for w in "${wanted[@]}"; do
		w=${w%.c}
		[ -n "$w" ] || continue
		if [ -e "$dir/$w.c" ]; then
			names+=("$w")
		else
			unknown+=("$w")
		fi
	done
else
	names=("${all[@]}")
fi

passed=0
failed=0

for w in "${unknown[@]}"; do
	echo "FAIL $w (build): no such test $dir/$w.c"
	failed=$((failed + 1))
done

if [ -x "$runsc" ]; then
	have_runsc=1
else
	have_runsc=0
	echo "# runsc not found or not executable at $runsc: every runsc run will fail"
fi

# show_tail prints the last lines of a log, indented, after a FAIL line.
show_tail() {
	tail -n 20 "$1" | sed 's/^/    | /'
}

# describe_status turns an exit status from timeout(1) into words.
describe_status() {
	case $1 in
	124) echo "timed out after ${timeout_s}s" ;;
	*) if [ "$1" -gt 128 ]; then
		echo "killed by signal $(($1 - 128))"
	else
		echo "exit status $1"
	fi ;;
	esac
}

for name in "${names[@]}"; do
	src="$dir/$name.c"
	bin="$build/$name"
	log="$build/$name"
	rm -f "$log.build.log" "$log.native.log" "$log.runsc.log"

	if ! gcc -static -O1 -Wall -Werror -o "$bin" "$src" >"$log.build.log" 2>&1; then
		echo "FAIL $name (build): gcc failed"
		show_tail "$log.build.log"
		failed=$((failed + 1))
		continue
	fi

	timeout -k 10 "$timeout_s" "$bin" </dev/null >"$log.native.log" 2>&1
	status=$?
	if [ "$status" -ne 0 ]; then
		echo "FAIL $name (native): $(describe_status "$status")"
		show_tail "$log.native.log"
		echo "# $name (runsc) not run: the native run failed"
		failed=$((failed + 1))
		continue
	fi
	echo "PASS $name (native)"

	if [ "$have_runsc" -eq 0 ]; then
		echo "FAIL $name (runsc): runsc not found at $runsc"
		failed=$((failed + 1))
		continue
	fi
	# A program may ask for "runsc do" flags with a "runsc-do-flags: ..."
	# line in its leading comment (capabilities beyond Docker's default).
	doflags=$(sed -n 's/^ \* runsc-do-flags: //p' "$src" | head -1)
	# shellcheck disable=SC2086
	timeout -k 10 "$timeout_s" "$runsc" do $doflags "$bin" </dev/null >"$log.runsc.log" 2>&1
	status=$?
	if [ "$status" -ne 0 ]; then
		echo "FAIL $name (runsc): $(describe_status "$status")"
		show_tail "$log.runsc.log"
		failed=$((failed + 1))
		continue
	fi
	echo "PASS $name (runsc)"
	passed=$((passed + 1))
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
