# vm/kernel.sh - the kernel a 'swapemu vm' run boots: a bzImage given with
# --kernel, or a Debian linux-image package (fetched with apt-get download,
# cached, unpacked with dpkg-deb -x). Sourced by vm/swapemu-vm; uses its
# die, note and the variables KERNEL, MODULES, KPKG and CACHE.

# Sets KIMG (the bzImage), KVER (its release) and MODDIR (its
# lib/modules/KVER, or empty), and KSRC (where it came from).
bzimage_version() {
	local off
	off=$(od -An -tu2 -j 526 -N2 "$1" | tr -d ' ')
	is_uint "$off" || return 0
	dd if="$1" bs=1 skip=$((off + 512)) count=128 2>/dev/null | tr '\0' '\n' | head -1 | cut -d' ' -f1
}

apt_field() { # PACKAGE FIELD
	apt-cache show --no-all-versions "$1" 2>/dev/null | awk -v f="$2:" '$1 == f { sub(/^[^:]*: */, ""); print; exit }'
}

fetch_package() { # NAME -> sets DEB
	local name=$1 ver depends next i
	for i in 1 2 3 4; do
		ver=$(apt_field "$name" Version)
		[ -n "$ver" ] || die "no package '$name' is known to apt (apt-get update? a typo?)"
		# A metapackage (linux-image-amd64) depends on the real image.
		depends=$(apt_field "$name" Depends)
		next=$(tr ',' '\n' <<<"$depends" | sed 's/|.*//; s/(.*//; s/ //g' | grep -m1 '^linux-image-[0-9]')
		if [ -n "$next" ] && [[ ! $name =~ ^linux-image-[0-9] ]]; then
			note "$name $ver is a metapackage for $next"
			name=$next
			continue
		fi
		break
	done
	local debs=$CACHE/debs
	mkdir -p "$debs" || die "cannot create $debs"
	local pat=("$debs/${name}_${ver//:/%3a}_"*.deb)
	if [ ${#pat[@]} -gt 0 ]; then
		DEB=${pat[0]}
		return
	fi
	note "downloading $name $ver"
	local tmp
	tmp=$(mktemp -d "$debs/.dl.XXXXXX") || die "cannot write to $debs"
	chmod 755 "$tmp"
	chown _apt "$tmp" 2>/dev/null
	if ! (cd "$tmp" && apt-get download -q "$name=$ver") >"$tmp/log" 2>&1; then
		local why
		why=$(grep -m1 '^E:' "$tmp/log" || tail -1 "$tmp/log")
		rm -rf "$tmp"
		die "cannot fetch $name $ver: ${why:-apt-get download failed}"
	fi
	pat=("$tmp"/*.deb)
	[ ${#pat[@]} = 1 ] || { rm -rf "$tmp"; die "apt-get download $name gave no .deb"; }
	mv "${pat[0]}" "$debs/" && DEB=$debs/$(basename "${pat[0]}")
	rm -rf "$tmp"
}

unpack_package() { # DEB -> sets KIMG KVER MODDIR
	local deb=$1 key dir
	dpkg-deb -f "$deb" Package >/dev/null 2>&1 || die "$deb is not a Debian package"
	key=$(dpkg-deb -f "$deb" Package)_$(dpkg-deb -f "$deb" Version | tr ':' '%')
	dir=$CACHE/kernels/$key
	if [ ! -f "$dir/.complete" ]; then
		note "unpacking $(basename "$deb")"
		rm -rf "$dir" && mkdir -p "$dir" || die "cannot create $dir"
		dpkg-deb -x "$deb" "$dir" || die "cannot unpack $deb"
		touch "$dir/.complete"
	fi
	local imgs=("$dir"/boot/vmlinuz-*)
	[ ${#imgs[@]} -ge 1 ] || die "package $(dpkg-deb -f "$deb" Package) holds no kernel (/boot/vmlinuz-*)"
	KIMG=${imgs[0]}
	KVER=${KIMG##*/vmlinuz-}
	MODDIR=""
	for d in "$dir/lib/modules/$KVER" "$dir/usr/lib/modules/$KVER"; do
		[ -d "$d" ] && MODDIR=$d
	done
	KSRC="$(dpkg-deb -f "$deb" Package) $(dpkg-deb -f "$deb" Version)"
}

resolve_kernel() {
	if [ -n "$KPKG" ]; then
		# One download and unpack at a time per cache.
		local lock
		mkdir -p "$CACHE" || die "cannot create the cache $CACHE"
		exec {lock}>"$CACHE/.lock" || die "cannot write to the cache $CACHE"
		flock "$lock"
		resolve_package
		exec {lock}>&-
		return
	fi
	KIMG=$(readlink -f "$KERNEL")
	KVER=$(bzimage_version "$KIMG")
	MODDIR=""
	if [ -n "$MODULES" ]; then
		MODULES=$(readlink -f "$MODULES")
		if [ -n "$KVER" ] && [ -d "$MODULES/lib/modules/$KVER" ]; then
			MODDIR=$MODULES/lib/modules/$KVER
		elif [ -f "$MODULES/modules.order" ] || [ -d "$MODULES/kernel" ]; then
			MODDIR=$MODULES
		else
			die "--modules $MODULES holds neither lib/modules/${KVER:-VERSION} nor modules.order"
		fi
	fi
	KSRC=$KIMG
}

resolve_package() {
	if [[ $KPKG == *.deb ]]; then
		[ -f "$KPKG" ] || die "package file $KPKG does not exist"
		DEB=$(readlink -f "$KPKG")
	else
		[[ $KPKG =~ ^[a-z0-9][a-z0-9+.-]+$ ]] || die "bad package name '$KPKG'"
		command -v apt-get >/dev/null || die "--kernel-package NAME needs apt-get"
		fetch_package "$KPKG"
	fi
	unpack_package "$DEB"
}

