# vm/initramfs.sh - the guest's initramfs for a 'swapemu vm' run: busybox,
# vm/init, the static workload and tools, and the kernel modules the run
# needs (with their dependencies, decompressed). Sourced by vm/swapemu-vm.

# Modules the guest needs, with what they depend on, in load order.
MODS_WANTED=(virtio_pci virtio_blk)
mod_file() { # NAME: the module's file under MODDIR, or nothing
	local n=${1//-/_} alt=${1//_/-}
	find "$MODDIR" \( -name "$n.ko" -o -name "$n.ko.*" -o -name "$alt.ko" -o -name "$alt.ko.*" \) -print -quit
}
mod_builtin() {
	local n=${1//-/_}
	[ -f "$MODDIR/modules.builtin" ] &&
		sed 's|.*/||; s|\.ko.*||; s|-|_|g' "$MODDIR/modules.builtin" | grep -qx "$n"
}
mod_cat() { # FILE: the module's ELF, decompressed
	case "$1" in
	*.ko) cat "$1" ;;
	*.ko.xz) "$BUSYBOX" xzcat "$1" ;;
	*.ko.gz) "$BUSYBOX" zcat "$1" ;;
	*.ko.zst) command -v zstd >/dev/null || die "$1 is zstd-compressed and zstd is missing"; zstd -dc "$1" ;;
	*) die "unknown module format: $1" ;;
	esac
}
declare -A MOD_DONE=()
MOD_ORDER=()
add_module() { # NAME DESTDIR
	local n=${1//-/_} f deps d
	[ -z "${MOD_DONE[$n]:-}" ] || return 0
	MOD_DONE[$n]=1
	f=$(mod_file "$n")
	if [ -z "$f" ]; then
		mod_builtin "$n" && return 0
		die "module $n is neither in $MODDIR nor built in"
	fi
	mod_cat "$f" >"$2/$n.ko" || die "cannot read $f"
	deps=$(tr '\0' '\n' <"$2/$n.ko" | sed -n 's/^depends=//p' | head -1)
	for d in ${deps//,/ }; do add_module "$d" "$2"; done
	MOD_ORDER+=("$n.ko")
}

# Writes the initramfs for MODE (run or probe) to $1.
build_initramfs() {
	local out=$1 mode=$2 root wanted=("${MODS_WANTED[@]}")
	root=$WORK/root-$mode
	rm -rf "$root"
	mkdir -p "$root"/{bin,dev,proc,sys,tmp,etc,lib/modules} || return 1
	cp "$BUSYBOX" "$root/bin/busybox"
	ln -s busybox "$root/bin/sh"
	cp "$TOP/vm/init" "$root/init"
	chmod 755 "$root/init"
	if [ "$mode" = run ]; then
		cp "$BDIR/swapemu-torture.static" "$root/bin/swapemu-torture"
		mkdir -p "$root/opt/swapemu"
		for f in "${INCLUDES[@]}"; do
			cp -a "$f" "$root/opt/swapemu/" || return 1
		done
		if [ "$NBDC" = guest ]; then
			cp "$BDIR/swapemu-nbd-connect.static" "$root/bin/swapemu-nbd-connect"
			wanted+=(nbd virtio_net)
		fi
		# zram and its default compressor (the guest has no modprobe for
		# the crypto API to call): Debian's 6.1 kernels have zram,
		# zsmalloc and lzo-rle as modules.
		[ "$BASELINE" = zram ] && wanted=(zram)
		if [ -n "$MODDIR" ]; then
			MOD_DONE=() MOD_ORDER=()
			if [ "$BASELINE" = zram ]; then
				[ -n "$(mod_file zram)" ] || mod_builtin zram ||
					die "--baseline zram: the guest kernel has no zram (no zram module in $MODDIR, not built in)"
				for m in lzo-rle lzo lz4; do
					[ -z "$(mod_file "$m")" ] || add_module "$m" "$root/lib/modules"
				done
			fi
			for m in "${wanted[@]}"; do add_module "$m" "$root/lib/modules"; done
			# A RAM disk, where the kernel has one, for the pin
			# scenario's O_DIRECT scratch file (vm/init).
			[ -n "$RUN_CMD" ] || [ -z "$(mod_file brd)" ] || add_module brd "$root/lib/modules"
			printf '%s\n' "${MOD_ORDER[@]}" >"$root/lib/modules/load"
		fi
	fi
	{
		echo "SWAPEMU_MODE=$mode"
		if [ "$BASELINE" = zram ]; then
			echo "SWAPEMU_DISK=zram"
		elif [ "$NBDC" = guest ]; then
			echo "SWAPEMU_DISK=nbd"
			echo "SWAPEMU_NBD_HOST=10.0.2.100"
			echo "SWAPEMU_NBD_PORT=10809"
		else
			echo "SWAPEMU_DISK=virtio"
		fi
		# Empty: keep the driver's stable_writes (zram without --stable-writes).
		echo "SWAPEMU_ADVERTISE=$(case $ADVERTISE in (yes) echo 1 ;; (no) echo 0 ;; esac)"
		echo "SWAPEMU_PRIORITY=$PRIORITY"
		# FINDINGS: a small guest swapping through its own NBD client
		# hung under pressure unless min_free_kbytes was raised.
		echo "SWAPEMU_MIN_FREE_KBYTES=$([ "$NBDC" = guest ] && echo 16384 || echo 0)"
		if [ -n "$BASELINE" ]; then
			# No target in the guest: the workload runs without a device.
			printf 'SWAPEMU_TORTURE_ARGS=%q\n' "${TORTURE[*]}"
		else
			printf 'SWAPEMU_TORTURE_ARGS=%q\n' "--target $NAME --gentab ivshmem --control shm ${TORTURE[*]}"
		fi
		printf 'SWAPEMU_RUN_CMD=%q\n' "$RUN_CMD"
	} >"$root/etc/swapemu-vm.conf"
	(cd "$root" && find . | LC_ALL=C sort | "$BUSYBOX" cpio -o -H newc 2>/dev/null) >"$out" &&
		[ -s "$out" ]
}

