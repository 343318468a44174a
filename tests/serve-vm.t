#!/bin/bash
# A QEMU guest swaps through 'swapemu serve' over TCP with TLS-PSK, the way
# a test machine elsewhere would: 'swapemu vm --front-end nbd' runs with
# SWAPEMU_QEMU set to a wrapper that points the guest's NBD disk at a
# 'swapemu serve' on 127.0.0.1 (instead of the vm's own Unix socket) with
# the tls-creds-psk object serve prints. The guest's workload loses no page
# and the served target counts the guest's I/O; with another key QEMU is
# refused and the guest never runs. Skips where swapemu vm cannot boot.
. "$(dirname "$0")/lib.sh"
. "$TOP/vm/test-lib.sh"
command -v nbdkit >/dev/null || skip_all "no nbdkit"
[ -f "$BUILD/nbdkit-swapemu-plugin.so" ] || skip_all "the nbdkit plugin is not built"
require_vm_env
plan 8
W=$(mktemp -d /tmp/swapemu-serve-vm.XXXXXX)
trap 'vm_keep_failed; cleanup; rm -rf "$W"' EXIT

listening() { ss -Hltn "sport = :$1" | grep -q .; }
port=$(shuf -i 20000-60000 -n 1)
while listening "$port"; do port=$(shuf -i 20000-60000 -n 1); done

"$SWAPEMU" serve --profile "$TOP/configs/stable.conf" --listen "127.0.0.1:$port" --daemon \
	--name tcp >"$W/serve.out" 2>&1
ok $? "serve on 127.0.0.1:$port with TLS"
counter() { "$BUILD/swapemu-ctl" "$SWAPEMU_RUN_DIR/tcp/control.sock" counters | awk -v k="$1" '$1 == k { print $2 }'; }

# The QEMU wrapper: the guest's disk becomes the served target, with the
# key in DIR/keys.psk ($1).
wrapper() { # KEYDIR
	cat >"$W/qemu" <<EOF
#!/bin/bash
a=()
for x in "\$@"; do
	case "\$x" in
	driver=nbd,server.type=unix,*) a+=("driver=nbd,server.type=inet,server.host=127.0.0.1,server.port=$port,tls-creds=tls0,node-name=n0") ;;
	*) a+=("\$x") ;;
	esac
done
exec qemu-system-x86_64 -object "tls-creds-psk,id=tls0,endpoint=client,dir=$1,username=swapemu" "\${a[@]}"
EOF
	chmod 700 "$W/qemu"
}

mkdir -m 700 "$W/key" "$W/other"
cp "$SWAPEMU_RUN_DIR/tcp/keys.psk" "$W/key/keys.psk"
echo "swapemu:$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')" >"$W/other/keys.psk"

wrapper "$W/key"
SWAPEMU_QEMU=$W/qemu vm_run tls --profile "$TOP/configs/stable.conf" --front-end nbd \
	--pages 512 --swapouts 1000 --seconds 120
T=$VM_TORTURE
check "the guest's run completed" test "$VM_RC:$(json_s status <<<"$VM_REPORT")" = 0:ok
[ "$VM_RC" = 0 ] || vm_console tls
n=$(json_num swapouts <<<"$T")
check "the guest swapped out at least 1000 pages ($n)" test "${n:-0}" -ge 1000
check "0 lost, 0 corrupt" test "$(json_num lost <<<"$T"):$(json_num corrupt <<<"$T")" = 0:0
w=$(counter write.count) r=$(counter read.count)
check "the served target saw the guest's writes and reads ($w, $r)" test "${w:-0}" -gt 0 -a "${r:-0}" -gt 0

wrapper "$W/other"
SWAPEMU_QEMU=$W/qemu vm_run wrongkey --profile "$TOP/configs/stable.conf" --front-end nbd \
	--pages 64 --swapouts 64 --boot-timeout 20
check "with another key the guest does not run (exit $VM_RC)" test "$VM_RC" != 0
check "and the served target saw nothing more" test "$(counter write.count)" = "$w"
"$SWAPEMU" detach tcp
ok $? "detach the served target"
done_testing
