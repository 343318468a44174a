#!/bin/bash
# swapemu serve: a target over NBD on TCP, TLS-PSK required by default.
# QEMU's client (qemu-io) and libnbd (nbdcopy, nbdinfo) with the key read
# and write it; a client without TLS, or with another key, is refused; the
# refusal is in daemon.log; bad options give one line; the foreground server
# stops on SIGTERM and dies with a SIGKILLed swapemu; --no-tls works and
# warns. No swap is attached: the server runs on 127.0.0.1.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip_all "needs root"
command -v nbdkit >/dev/null || skip_all "no nbdkit"
command -v nbdinfo >/dev/null && command -v nbdcopy >/dev/null || skip_all "no libnbd-bin"
command -v qemu-io >/dev/null || skip_all "no qemu-io (qemu-utils)"
[ -f "$BUILD/nbdkit-swapemu-plugin.so" ] || skip_all "the nbdkit plugin is not built"
plan 33
S=$SWAPEMU
W=$(mktemp -d /tmp/swapemu-serve.XXXXXX)
trap 'cleanup; rm -rf "$W"' EXIT

listening() { ss -Hltn "sport = :$1" | grep -q .; }
free_port() {
	local p
	while :; do
		p=$(shuf -i 20000-60000 -n 1)
		listening "$p" || { echo "$p"; return; }
	done
}
wait_listening() { # PORT
	local i
	for i in $(seq 100); do listening "$1" && return 0; sleep 0.1; done
	return 1
}
# qemu-io over NBD on 127.0.0.1:PORT with the key in DIR/keys.psk (or no TLS)
qio() { # PORT DIR|"" COMMAND...
	local port=$1 dir=$2 tls=()
	shift 2
	[ -z "$dir" ] || tls=(--object "tls-creds-psk,id=tls0,endpoint=client,dir=$dir,username=swapemu")
	local opts=driver=nbd,server.type=inet,server.host=127.0.0.1,server.port=$port${dir:+,tls-creds=tls0}
	local c=() a
	for a in "$@"; do c+=(-c "$a"); done
	timeout 60 qemu-io "${tls[@]}" --image-opts "$opts" "${c[@]}"
}
one_line() { [ "$(printf '%s\n' "$1" | wc -l)" = 1 ] && [ -n "$1" ]; }

# Bad input: one line each, exit 2, nothing started.
"$S" serve --help | grep -q -- "--listen ADDR:PORT"
ok $? "serve --help"
for bad in "--profile $TOP/configs/stable.conf" \
	"--profile $TOP/configs/stable.conf --listen 127.0.0.1" \
	"--profile $TOP/configs/stable.conf --listen 127.0.0.1:70000" \
	"--profile $TOP/configs/stable.conf --listen 127.0.0.1:1 --psk $W/nosuch" \
	"--profile $TOP/configs/stable.conf --listen 127.0.0.1:1 --psk $W/open.psk" \
	"--profile $TOP/configs/stable.conf --listen 127.0.0.1:1 --psk $W/bad.psk" \
	"--profile $TOP/configs/stable.conf --listen 127.0.0.1:1 --psk $W/bad.psk --no-tls"; do
	echo "swapemu:00112233445566778899aabbccddeeff" >"$W/open.psk" && chmod 644 "$W/open.psk"
	echo "swapemu:xyz" >"$W/bad.psk" && chmod 600 "$W/bad.psk"
	# shellcheck disable=SC2086
	err=$("$S" serve $bad 2>&1)
	rc=$?
	one_line "$err" && [ $rc = 2 ]
	ok $? "refused in one line (rc $rc): $err"
done

# The default: TLS with a new key.
port=$(free_port)
out=$("$S" serve --profile "$TOP/configs/stable.conf" --set device.size=16M --name srv \
	--listen "127.0.0.1:$port" --daemon 2>&1)
ok $? "serve --daemon on 127.0.0.1:$port"
d=$SWAPEMU_RUN_DIR/srv
check "it listens" wait_listening "$port"
echo "$out" | grep -q "tls-creds-psk,id=tls0,endpoint=client,dir=/etc/swapemu,username=swapemu" &&
	echo "$out" | grep -q "server.host=127.0.0.1,server.port=$port,tls-creds=tls0" &&
	echo "$out" | grep -q "nbds://swapemu@127.0.0.1:$port/"
ok $? "it prints the QEMU, qemu-nbd and libnbd client commands"
check "the key is root's, mode 0600" test "$(stat -c %a:%u "$d/keys.psk")" = 600:0
grep -qE '^swapemu:[0-9a-f]{64}$' "$d/keys.psk"
ok $? "the key is 32 random bytes in psktool's format"
mkdir -m 700 "$W/key" "$W/other"
cp "$d/keys.psk" "$W/key/keys.psk"
echo "swapemu:$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')" >"$W/other/keys.psk"

qio "$port" "$W/key" "write -P 0x5a 0 1M" "read -P 0x5a 0 1M" >"$W/qio.out" 2>&1
ok $? "qemu-io with the key writes 1 MiB and reads it back"
writes=$("$TOP/build/swapemu-ctl" "$d/control.sock" counters | awk '$1 == "write.count" { print $2 }')
check "the device counted the writes ($writes)" test "${writes:-0}" -gt 0
head -c 1M /dev/zero | tr '\0' '\132' >"$W/expect"
timeout 60 nbdcopy "nbds://swapemu@127.0.0.1:$port/?tls-psk-file=$W/key/keys.psk" "$W/got" 2>/dev/null
ok $? "nbdcopy (libnbd) with the key reads the whole target"
cmp -s -n 1048576 "$W/got" "$W/expect"
ok $? "and sees what qemu-io wrote"

timeout 30 nbdinfo --size "nbd://127.0.0.1:$port" >/dev/null 2>&1
check "a client without TLS is refused" test $? != 0
qio "$port" "" "read 0 4k" >/dev/null 2>&1
check "qemu-io without TLS is refused" test $? != 0
timeout 30 nbdinfo --size "nbds://swapemu@127.0.0.1:$port/?tls-psk-file=$W/other/keys.psk" >/dev/null 2>&1
check "a client with another key is refused" test $? != 0
qio "$port" "$W/other" "write -P 0x11 0 4k" >/dev/null 2>&1
check "qemu-io with another key is refused" test $? != 0
timeout 60 nbdcopy "nbds://swapemu@127.0.0.1:$port/?tls-psk-file=$W/key/keys.psk" "$W/got2" 2>/dev/null &&
	cmp -s -n 1048576 "$W/got2" "$W/expect"
ok $? "the refused clients changed nothing"
grep -q "gnutls_handshake" "$d/daemon.log"
ok $? "nbdkit's refusals are in daemon.log"
"$S" status srv | grep -q "^srv  *running"
ok $? "status lists the served target"
"$S" detach srv
ok $? "detach stops the daemon"
! listening "$port" && [ ! -e "$d" ]
ok $? "the port is closed and the run directory removed"

# A given key; the server in the foreground until SIGTERM.
cp "$W/other/keys.psk" "$W/given.psk"
chmod 600 "$W/given.psk"
port=$(free_port)
"$S" serve --profile "$TOP/configs/stable.conf" --set device.size=16M --name fg \
	--listen "127.0.0.1:$port" --psk "$W/given.psk" >"$W/fg.out" 2>&1 &
fg=$!
check "serve in the foreground listens" wait_listening "$port"
qio "$port" "$W/other" "write -P 0x22 0 64k" "read -P 0x22 0 64k" >/dev/null 2>&1
ok $? "a client with the given key works"
kill -TERM "$fg"
wait "$fg"
rc=$?
! listening "$port" && [ ! -e "$SWAPEMU_RUN_DIR/fg" ] && [ $rc = 0 ]
ok $? "SIGTERM stops it (rc $rc), closes the port and removes the run directory"

# SIGKILL of swapemu: nbdkit goes with it; detach cleans up the rest.
port=$(free_port)
"$S" serve --profile "$TOP/configs/stable.conf" --set device.size=16M --name k \
	--listen "127.0.0.1:$port" >/dev/null 2>&1 &
k=$!
wait_listening "$port"
kpid=$(cat "$SWAPEMU_RUN_DIR/k/pid")
kill -KILL "$k"
wait "$k" 2>/dev/null
for _ in $(seq 100); do kill -0 "$kpid" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$kpid" 2>/dev/null
ok $? "nbdkit dies with a SIGKILLed swapemu serve"
"$S" detach k >/dev/null 2>&1 && [ ! -e "$SWAPEMU_RUN_DIR/k" ]
ok $? "detach removes what it left"

# --no-tls: plain NBD, with a warning.
port=$(free_port)
out=$("$S" serve --profile "$TOP/configs/stable.conf" --set device.size=16M --name plain \
	--listen "127.0.0.1:$port" --no-tls --daemon 2>&1)
echo "$out" | grep -q "warning: --no-tls"
ok $? "--no-tls warns"
wait_listening "$port" && timeout 30 nbdinfo --size "nbd://127.0.0.1:$port" >/dev/null 2>&1
ok $? "--no-tls serves plain NBD"
"$S" detach plain
done_testing
