# tools/serve.sh - 'swapemu serve': one target served over NBD on TCP, for a
# test machine elsewhere (QEMU, qemu-nbd, libnbd), with TLS-PSK required
# unless --no-tls. Sourced by the swapemu script, whose helpers (and those
# of lib/sh/common.sh) it uses.

serve_usage() {
	cat <<'EOF'
usage: swapemu serve --profile FILE --listen ADDR:PORT [OPTIONS]

Serve a new target over NBD on TCP (nbdkit with the swapemu plugin) for a
test machine elsewhere: a QEMU guest, or a kernel NBD device via qemu-nbd.
TLS with a pre-shared key is required by default. Prints the client
commands, then runs until Ctrl-C (or SIGTERM), and removes the target.

  --profile FILE        the target's profile (configs/)
  --listen ADDR:PORT    address and TCP port to listen on, e.g.
                        192.168.1.5:10809, 0.0.0.0:10809, [::1]:10809
  --name NAME           target name (default: the profile's file name);
                        'swapemu inject NAME ...' and 'status' work on it
  --set SECTION.KEY=VALUE
                        override one profile key (repeatable)
  --psk FILE            the TLS pre-shared key file, lines USER:HEXKEY
                        (psktool's format), owned by root, mode 0600;
                        default: a new random key in the run directory
                        ($SWAPEMU_RUN_DIR/NAME/keys.psk, user 'swapemu'),
                        removed when the server stops
  --no-tls              plain NBD: anyone who reaches ADDR:PORT can read
                        and write the target. Only on a trusted network.
  --daemon              start the server in the background and return;
                        stop it with 'swapemu detach NAME' (nbdkit's pid
                        is in $SWAPEMU_RUN_DIR/NAME/pid)
  -h, --help            this text

The client needs the key file (copy it over a secure channel, keep it
0600). QEMU and qemu-nbd want it as DIR/keys.psk.
EOF
}

# The host a client should connect to for ADDR (a wildcard means any of
# this machine's addresses: take the first).
serve_client_host() { # ADDR
	case "$1" in
	0.0.0.0 | :: | "") hostname -I 2>/dev/null | awk '{ print $1 }' ;;
	*) echo "$1" ;;
	esac
}

# Checks a PSK file as nbdkit reads it; prints its first user.
serve_check_psk() { # FILE
	local f=$1 mode owner
	[ -f "$f" ] || die "psk file $f does not exist"
	[ -r "$f" ] || die "psk file $f is not readable"
	mode=$(stat -L -c %a "$f")
	owner=$(stat -L -c %u "$f")
	[ "$owner" = 0 ] || die "psk file $f is not owned by root"
	[ $((8#$mode & 077)) = 0 ] ||
		die "psk file $f is readable by others (mode $mode): chmod 600 $f"
	grep -qvE '^[A-Za-z0-9_.-]+:[0-9a-fA-F]{32,}$' "$f" &&
		die "psk file $f: $(grep -nvE '^[A-Za-z0-9_.-]+:[0-9a-fA-F]{32,}$' "$f" | head -1 | cut -d: -f1): not USER:HEXKEY (at least 16 bytes of key in hex)"
	[ -s "$f" ] || die "psk file $f is empty"
	head -1 "$f" | cut -d: -f1
}

serve_print_clients() { # HOST PORT TLS USER PSK ADVERTISE
	local host=$1 port=$2 tls=$3 user=$4 psk=$5 adv=$6 h=$1 sw
	[[ $h == *:* ]] && h="[$h]"
	sw=$([ "$adv" = yes ] && echo 1 || echo 0)
	if [ -n "$tls" ]; then
		cat <<EOF
On the test machine, with the key copied to /etc/swapemu/keys.psk (mode 0600):

  QEMU (guest disk):
    qemu-system-x86_64 ... \\
      -object tls-creds-psk,id=tls0,endpoint=client,dir=/etc/swapemu,username=$user \\
      -blockdev driver=nbd,server.type=inet,server.host=$host,server.port=$port,tls-creds=tls0,node-name=swap0 \\
      -device virtio-blk-pci,drive=swap0
    in the guest: echo $sw > /sys/block/vda/queue/stable_writes; mkswap /dev/vda; swapon /dev/vda

  Kernel NBD device (nbd-client does TLS only with X.509 certificates; qemu-nbd does PSK):
    modprobe nbd
    qemu-nbd --connect=/dev/nbd0 \\
      --object tls-creds-psk,id=tls0,endpoint=client,dir=/etc/swapemu,username=$user \\
      --image-opts driver=nbd,server.type=inet,server.host=$host,server.port=$port,tls-creds=tls0
    echo $sw > /sys/block/nbd0/queue/stable_writes; mkswap /dev/nbd0; swapon /dev/nbd0

  Check the connection (libnbd):
    nbdinfo 'nbds://$user@$h:$port/?tls-psk-file=/etc/swapemu/keys.psk'
EOF
	else
		cat <<EOF
On the test machine:

  QEMU (guest disk):
    qemu-system-x86_64 ... \\
      -blockdev driver=nbd,server.type=inet,server.host=$host,server.port=$port,node-name=swap0 \\
      -device virtio-blk-pci,drive=swap0
    in the guest: echo $sw > /sys/block/vda/queue/stable_writes; mkswap /dev/vda; swapon /dev/vda

  Kernel NBD device:
    modprobe nbd; nbd-client $host $port /dev/nbd0
    echo $sw > /sys/block/nbd0/queue/stable_writes; mkswap /dev/nbd0; swapon /dev/nbd0

  Check the connection (libnbd):
    nbdinfo 'nbd://$h:$port'
EOF
	fi
}

cmd_serve() {
	local profile='' name='' listen='' psk='' tls=1 daemon='' sets=() tlsargs=()
	while [ $# -gt 0 ]; do
		case "$1" in
		--profile | -p) profile=${2:?--profile needs a file}; shift 2 ;;
		--listen | -l) listen=${2:?--listen needs ADDR:PORT}; shift 2 ;;
		--name | -n) name=${2:?--name needs a value}; shift 2 ;;
		--set | -s) sets+=("${2:?--set needs SECTION.KEY=VALUE}"); shift 2 ;;
		--psk) psk=${2:?--psk needs a file}; shift 2 ;;
		--no-tls) tls=; shift ;;
		--daemon) daemon=1; shift ;;
		-h | --help) serve_usage; exit 0 ;;
		*) die "unknown option '$1' for serve (see swapemu serve --help)" ;;
		esac
	done
	[ -n "$profile" ] || die "serve needs --profile FILE"
	[ -f "$profile" ] || die "profile $profile does not exist"
	[ -n "$listen" ] || die "serve needs --listen ADDR:PORT"
	local addr port
	if [[ $listen =~ ^\[([0-9A-Fa-f:.]+)\]:([0-9]+)$ || $listen =~ ^([^:]+):([0-9]+)$ ]]; then
		addr=${BASH_REMATCH[1]} port=${BASH_REMATCH[2]}
	else
		die "bad --listen '$listen' (ADDR:PORT, e.g. 0.0.0.0:10809 or [::1]:10809)"
	fi
	((10#$port >= 1 && 10#$port <= 65535)) || die "bad port $port in --listen (1 to 65535)"
	[ -z "$psk" ] || [ -n "$tls" ] || die "--psk and --no-tls contradict each other"
	need_root serve
	command -v nbdkit >/dev/null || die "serve needs nbdkit (apt-get install nbdkit)"
	[ -f "$(bin nbdkit-swapemu-plugin.so)" ] || die "$(bin nbdkit-swapemu-plugin.so) is missing: run make"
	[ -n "$name" ] || name=$(basename "$profile" .conf)
	valid_name "$name"
	local user=swapemu
	[ -z "$psk" ] || { user=$(serve_check_psk "$psk") && psk=$(readlink -f "$psk"); } || exit 2
	local dir=$RUN_BASE/$name
	if [ -d "$dir" ]; then
		[ -z "$(daemon_pid "$name")" ] || die "target '$name' is already attached (swapemu detach $name)"
		die "target '$name' has leftovers of an earlier run; clean them with 'swapemu detach $name'"
	fi
	local eff
	eff=$("$(bin swapemu-fuse)" --profile "$profile" "${sets[@]/#/--set=}" --print-profile) || exit 2
	[ -n "$tls" ] || echo "$PROG: warning: --no-tls: anyone who can reach $addr:$port can read and write this target" >&2

	umask 077
	mkdir -p "$dir"
	chmod 700 "$dir"
	trap 'rc=$?; trap - ERR EXIT INT TERM; QUIET=1 detach_one "$name" >/dev/null 2>&1 || true; exit $(( rc ? rc : 1 ))' ERR
	trap 'trap - ERR EXIT INT TERM; echo "$PROG: stopping the server" >&2; detach_one "$name" || exit 1; exit 0' INT TERM
	cp "$profile" "$dir/profile.conf"
	printf '%s\n' "$eff" >"$dir/effective.conf"
	echo serve >"$dir/front-end"
	if [ -n "$tls" ]; then
		if [ -z "$psk" ]; then
			psk=$dir/keys.psk
			printf '%s:%s\n' "$user" "$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')" >"$psk"
		fi
		tlsargs=(--tls=require --tls-psk="$psk")
	else
		tlsargs=(--tls=off)
	fi
	# The plugin takes profile overrides as SECTION.KEY=VALUE parameters.
	nbdkit_plugin_args "$dir" "$profile" mlock=yes "${sets[@]}"
	local nbdkit_args=(--ipaddr "$addr" --port "$port" --pidfile "$dir/pid" --threads 32 "${tlsargs[@]}"
		"${NBDKIT_PLUGIN_ARGS[@]}")
	if [ -n "$daemon" ]; then
		nbdkit_background "$dir/daemon.log" "${nbdkit_args[@]}"
	else
		# Our child: it dies with us, even on SIGKILL.
		nbdkit_child "$dir/daemon.log" "${nbdkit_args[@]}"
	fi
	local pid=$!
	wait_ready "$dir" "$pid" || { show_log "$dir"; false; }
	private_files "$dir"
	note "serving target '$name' (profile $(basename "$profile")) on $addr:$port over NBD, $([ -n "$tls" ] && echo "TLS required, PSK user '$user', key $psk" || echo "WITHOUT TLS")"
	serve_print_clients "$(serve_client_host "$addr")" "$port" "$tls" "$user" "$psk" \
		"$(profile_value advertise <<<"$eff")"
	if [ -n "$daemon" ]; then
		trap - ERR INT TERM
		note "running in the background (nbdkit pid $(cat "$dir/pid")); stop it with: swapemu detach $name"
		return 0
	fi
	note "press Ctrl-C to stop; 'swapemu inject $name ...' changes it meanwhile"
	local rc=0
	wait "$pid" || rc=$?
	trap - ERR INT TERM
	echo "$PROG: the server stopped (status $rc):" >&2
	sed 's/^/  /' "$dir/daemon.log" >&2
	QUIET=1 detach_one "$name" || true
	return 1
}
