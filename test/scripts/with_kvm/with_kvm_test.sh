#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# with_kvm_test.sh SOURCE_DIR CASE: one case of scripts/with-kvm's tests (see CMakeLists.txt).
# Each boots the real nested L1 where it needs one; it prints what differed and exits 1.
set -uo pipefail
source_dir=$1
case_name=$2
with_kvm=$source_dir/scripts/with-kvm
export MONARCH_WITH_KVM=nested
scratch=$(mktemp -d /tmp/with-kvm-test.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
failures=0

expect() { # WHAT EXPECTED ACTUAL
    if [[ "$2" != "$3" ]]; then
        echo "FAIL: $1: expected [$2], got [$3]"
        failures=$((failures + 1))
    fi
}
expect_match() { # WHAT REGEX TEXT
    if ! grep -qE -- "$2" <<<"$3"; then
        echo "FAIL: $1: [$2] not found in:"
        echo "$3" | sed 's/^/    /'
        failures=$((failures + 1))
    fi
}
skip_without_qemu() {
    command -v qemu-system-x86_64 >/dev/null || { echo "SKIP: qemu-system-x86_64 is not installed (run scripts/setup-deps)"; exit 77; }
}

case "$case_name" in
"status, output, environment and sockets pass through")
    skip_without_qemu
    cd "$scratch"
    # Runs in the L1: /dev/kvm answers, a Unix socket binds in /tmp (a tmpfs there) and in
    # this directory under /tmp (bound back from the host), stdin arrives as a file.
    cat > inner.sh <<'INNER'
echo "cwd=$PWD"
echo "nested=$MONARCH_NESTED marker=$MONARCH_TEST_MARKER"
test -c /dev/kvm && echo "kvm=yes"
grep -q . /sys/module/kvm_amd/parameters/npt && echo "kvm_amd=loaded"
/usr/bin/python3 -c 'import socket; s = socket.socket(socket.AF_UNIX); s.bind("/tmp/a.sock"); print("socket=bound")'
echo "stdin=$(cat)"
echo "to stderr" >&2
echo "made in the L1" > from-l1.txt
exit 42
INNER
    echo "piped in" | MONARCH_TEST_MARKER="a b'c" "$with_kvm" bash inner.sh > out.txt 2> err.txt
    expect "exit status" 42 "$?"
    out=$(cat out.txt)
    expect_match "working directory" "^cwd=$scratch\$" "$out"
    expect_match "environment" "^nested=1 marker=a b'c\$" "$out"
    expect_match "/dev/kvm" "^kvm=yes\$" "$out"
    expect_match "kvm_amd" "^kvm_amd=loaded\$" "$out"
    expect_match "socket in /tmp" "^socket=bound\$" "$out"
    expect_match "stdin" "^stdin=piped in\$" "$out"
    expect "stderr kept apart" "to stderr" "$(grep -v '^with-kvm:' err.txt)"
    expect "no CR added to output" 0 "$(grep -c $'\r' out.txt)"
    expect "file written in the L1" "made in the L1" "$(cat from-l1.txt 2>/dev/null)"
    "$with_kvm" true
    expect "exit status 0" 0 "$?"
    "$with_kvm" sh -c 'exit 77'
    expect "exit status 77 (ctest's skip) unchanged" 77 "$?"
    ;;
"the time limit stops the command and the L1")
    skip_without_qemu
    started=$SECONDS
    marker=with-kvm-timeout-$$
    output=$(MONARCH_TEST_MARKER=$marker MONARCH_L1_TIMEOUT=3 "$with_kvm" sh -c 'echo started; sleep 300' 2>&1)
    expect "exit status" 93 "$?"
    expect_match "message" "time limit of 3s hit" "$output"
    expect_match "the command had started" "^started\$" "$output"
    ((SECONDS - started < 200)) || { echo "FAIL: took $((SECONDS - started)) s"; failures=$((failures + 1)); }
    # QEMU inherits the runner's environment: none of this run's may be left.
    left=$(grep -l "MONARCH_TEST_MARKER=$marker" /proc/[0-9]*/environ 2>/dev/null | wc -l)
    expect "no process of this run left" 0 "$left"
    ;;
"a signal reaches the command")
    skip_without_qemu
    # The scratch directory is under /tmp: MONARCH_L1_BIND shows it to the command in the L1.
    MONARCH_L1_BIND=$scratch "$with_kvm" sh -c 'trap "echo got TERM; exit 3" TERM; touch '"$scratch"'/ready; sleep 300 & wait' > "$scratch/out" 2>&1 &
    runner=$!
    for _ in $(seq 300); do [[ -e "$scratch/ready" ]] && break; sleep 1; done
    expect "the command started (it made its file)" yes "$([[ -e "$scratch/ready" ]] && echo yes || echo no)"
    kill -TERM "$runner"
    wait "$runner"
    expect "exit status of the command's handler" 3 "$?"
    expect_match "the handler ran" "^got TERM\$" "$(cat "$scratch/out")"
    ;;
"a missing L1 kernel is a clear error")
    output=$(MONARCH_L1_KERNEL_DIR=$scratch/none "$with_kvm" true 2>&1)
    expect "exit status" 91 "$?"
    expect_match "message" "no L1 kernel in $scratch/none" "$output"
    ;;
"no QEMU is a clear error")
    mkdir "$scratch/bin"
    for tool in bash perl dirname cat; do ln -s "$(command -v "$tool")" "$scratch/bin/$tool"; done
    output=$(PATH=$scratch/bin "$with_kvm" true 2>&1)
    expect "exit status" 90 "$?"
    expect_match "message" "no qemu-system-x86_64" "$output"
    ;;
"bad settings are refused")
    output=$("$with_kvm" 2>&1)
    expect "no command: exit status" 2 "$?"
    expect_match "no command: usage" "with-kvm CMD" "$output"
    output=$(MONARCH_L1_MEMORY=lots "$with_kvm" true 2>&1)
    expect "bad memory: exit status" 2 "$?"
    expect_match "bad memory: message" "MONARCH_L1_MEMORY must be a size" "$output"
    output=$(MONARCH_WITH_KVM=maybe "$with_kvm" true 2>&1)
    expect "bad mode: exit status" 2 "$?"
    output=$(MONARCH_WITH_KVM=direct "$with_kvm" sh -c 'exit 5' 2>&1)
    expect "direct mode passes the status" 5 "$?"
    ;;
*)
    echo "unknown case: $case_name"
    exit 2
    ;;
esac
((failures == 0)) || exit 1
echo "PASS: $case_name"
