# swapemu - one `make` builds everything, `make check` runs every test under
# prove, `make demo` runs the side-by-side comparison of the shipped profiles.

CC ?= gcc
CFLAGS ?= -O2 -g
BUILD ?= build
PREFIX ?= /usr/local

# Debian packages the build and the tests need, by the file that proves each
# is installed.
DEPS := \
	/usr/include/fuse3/fuse_lowlevel.h:libfuse3-dev \
	/usr/bin/fusermount3:fuse3 \
	/usr/include/xxhash.h:libxxhash-dev \
	/usr/include/ini.h:libinih-dev \
	/usr/include/liburing.h:liburing-dev \
	/usr/include/libnbd.h:libnbd-dev \
	/usr/include/nbdkit-plugin.h:nbdkit-plugin-dev \
	/usr/bin/nbdkit:nbdkit \
	/usr/bin/nbdfuse:nbdfuse \
	/usr/bin/nbdcopy:libnbd-bin \
	/usr/bin/qemu-io:qemu-utils \
	/bin/ss:iproute2 \
	/usr/bin/setpriv:util-linux \
	/usr/bin/prove:perl \
	/usr/bin/qemu-system-x86_64:qemu-system-x86 \
	/usr/share/doc/busybox-static/copyright:busybox-static \
	/usr/bin/pkg-config:pkg-config \
	/sbin/losetup:mount \
	/sbin/mkswap:util-linux \
	/usr/bin/python3:python3 \
	/usr/bin/gnuplot:gnuplot-nox \
	/usr/bin/stress-ng:stress-ng \
	/usr/bin/clang:clang \
	/usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a:libclang-rt-14-dev \
	/usr/bin/fio:fio \
	/usr/bin/man:man-db
MISSING := $(strip $(foreach d,$(DEPS),$(if $(wildcard $(firstword $(subst :, ,$(d)))),,$(lastword $(subst :, ,$(d))))))

SWAPEMU_CFLAGS := -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -fPIC \
	-Ilib -Icommon -I/usr/include/fuse3 -pthread
# alignment is part of GCC's undefined; named so that it stays on (request
# buffers carry pages at any offset: tests/unit-unaligned.c).
ifeq ($(SAN),1)
SWAPEMU_CFLAGS += -fsanitize=address,undefined,alignment \
	-fno-omit-frame-pointer -fno-sanitize-recover=all
LDSAN := -fsanitize=address,undefined,alignment
BUILD := build-san
endif
ALL_CFLAGS = $(SWAPEMU_CFLAGS) $(CFLAGS)
LIBS := -lfuse3 -lxxhash -linih -luring -lpthread

# common/: the shared contracts (page stamp, generation table, VM mailbox,
# clock, hash, memory protection), in the library and in every program.
LIB_SRCS := $(wildcard lib/*.c common/*.c)
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
FUSE_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(wildcard fusefs/*.c))
TORTURE_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(wildcard workload/*.c))
TEST_HELPERS := $(BUILD)/tests/helpers.o
C_TESTS := $(patsubst tests/%.c,$(BUILD)/tests/%.t,$(filter-out tests/helpers.c,$(wildcard tests/*.c)))
UNIT_TESTS := $(filter $(BUILD)/tests/unit-%,$(C_TESTS))
PLUGIN_SRCS := $(wildcard nbdplugin/*.c)
PLUGIN := $(if $(PLUGIN_SRCS),$(BUILD)/nbdkit-swapemu-plugin.so)
TOOLS := $(BUILD)/swapemu-ctl

VM_TOOLS := $(if $(filter 1,$(SAN)),,$(addprefix $(BUILD)/vm/,swapemu-torture.static \
	swapemu-nbd-connect.static memfill.static swapemu-vm-bridge))

# Benchmarks (bench/), built with everything so that they never rot.
BENCH_PROGS := $(addprefix $(BUILD)/bench/,fuse-ref model-bench crc32c-bench swap-bench store-io \
	capture-timing control-latency nbd-bench inflight-nbd)

PROGRAMS := $(BUILD)/swapemu-fuse $(BUILD)/swapemu-torture $(TOOLS) $(PLUGIN) $(VM_TOOLS)
# The plugin's man page, when pod2man is there (perl's, always on Debian).
MANPAGE := $(if $(PLUGIN),$(if $(shell command -v pod2man),$(BUILD)/nbdkit-swapemu-plugin.1))
# swapemu.conf(5), its key list generated from the profile key table.
MANPAGE += $(if $(shell command -v pod2man),$(BUILD)/swapemu.conf.5)
# swapemu(1) (every command) and swapemu-fuse(8).
MANPAGE += $(if $(shell command -v pod2man),$(BUILD)/swapemu.1 $(BUILD)/swapemu-fuse.8)

.SECONDARY:
.PHONY: all deps check check-unit check-vm check-san demo compare clean install format soak fuzz bench bench-progs
all: deps $(PROGRAMS) $(C_TESTS) $(MANPAGE) $(BENCH_PROGS)

deps:
ifneq ($(MISSING),)
	@if [ "$$(id -u)" = 0 ]; then \
		echo "installing missing Debian packages: $(MISSING)"; \
		apt-get update -q >/dev/null && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(MISSING) >/dev/null; \
	else \
		echo "error: missing Debian packages: $(MISSING); run 'sudo apt-get install $(MISSING)' or 'sudo make deps'" >&2; \
		exit 1; \
	fi
endif

$(BUILD)/%.o: %.c $(wildcard lib/*.h common/*.h */*.h) | deps
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/libswapemu.a: $(LIB_OBJS)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/swapemu-fuse: $(FUSE_OBJS) $(BUILD)/libswapemu.a
	$(CC) $(LDSAN) $(LDFLAGS) -o $@ $^ $(LIBS)

# The workload and the client need only libc (the workload also liburing,
# for the pin scenario's fixed buffers): they may be linked statically.
$(TORTURE_OBJS): ALL_CFLAGS += -DSWAPEMU_HAVE_LIBURING
# The body check vectorises only with the vectoriser on (lib/classify.c).
$(BUILD)/lib/classify.o: ALL_CFLAGS += -ftree-vectorize
$(BUILD)/swapemu-torture: $(TORTURE_OBJS) $(BUILD)/libswapemu.a
	$(CC) $(LDSAN) $(LDFLAGS) -o $@ $^ -luring -lpthread

# The guest's tools for 'swapemu vm', with the same warnings as everything
# else: the workload, the NBD connector and a memory filler statically (they
# run in a busybox initramfs), the mailbox bridge for the host. Not in a
# sanitizer build: the sanitizers' runtimes cannot be linked statically.
$(BUILD)/vm/swapemu-torture.static: $(TORTURE_OBJS) $(BUILD)/libswapemu.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -static -o $@ $^ -luring -lpthread

$(BUILD)/vm/swapemu-nbd-connect.static: $(BUILD)/vm/nbd-connect.o
	$(CC) $(LDFLAGS) -static -o $@ $^

$(BUILD)/vm/memfill.static: $(BUILD)/vm/memfill.o
	$(CC) $(LDFLAGS) -static -o $@ $^

$(BUILD)/vm/swapemu-vm-bridge: $(BUILD)/vm/bridge.o $(BUILD)/libswapemu.a
	$(CC) $(LDFLAGS) -o $@ $^ -lpthread

$(BUILD)/swapemu-ctl: $(BUILD)/ctl/swapemu-ctl.o $(BUILD)/libswapemu.a
	$(CC) $(LDSAN) $(LDFLAGS) -o $@ $^ -lpthread

$(BUILD)/nbdkit-swapemu-plugin.so: $(PLUGIN_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/libswapemu.a
	$(CC) $(LDSAN) $(LDFLAGS) -shared -o $@ $^ $(LIBS)

$(BUILD)/nbdkit-swapemu-plugin.1: nbdplugin/nbdkit-swapemu-plugin.pod
	@mkdir -p $(dir $@)
	pod2man --section=1 --center=swapemu --release=swapemu --name=nbdkit-swapemu-plugin $< $@

$(BUILD)/profile-keys: $(BUILD)/man/profile-keys.o $(BUILD)/libswapemu.a
	$(CC) $(LDSAN) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/swapemu.conf.pod: man/swapemu.conf.pod $(BUILD)/profile-keys
	$(BUILD)/profile-keys --pod $< > $@.tmp && podchecker -warnings $@.tmp 2>/dev/null && mv $@.tmp $@

$(BUILD)/swapemu.conf.5: $(BUILD)/swapemu.conf.pod
	pod2man --section=5 --center=swapemu --release=swapemu --name=swapemu.conf $< $@

# podchecker without its 'syntax OK' line; any error or warning fails.
PODCHECK = sh -c 'out=$$(podchecker -warnings "$$1" 2>&1); rc=$$?; \
	case "$$out" in *ERROR*|*WARNING*) rc=1 ;; esac; \
	[ $$rc = 0 ] || { echo "$$out" >&2; exit 1; }' podcheck

$(BUILD)/swapemu.1: man/swapemu.pod
	@mkdir -p $(dir $@)
	@$(PODCHECK) $<
	pod2man --section=1 --center=swapemu --release=swapemu --name=swapemu $< $@

$(BUILD)/swapemu-fuse.8: fusefs/swapemu-fuse.pod
	@mkdir -p $(dir $@)
	@$(PODCHECK) $<
	pod2man --section=8 --center=swapemu --release=swapemu --name=swapemu-fuse $< $@

# The man pages, each in its section's directory.
.PHONY: install-man
MANDIR ?= $(PREFIX)/share/man
install-man: $(MANPAGE)
	for m in $(MANPAGE); do s=$${m##*.}; install -d $(DESTDIR)$(MANDIR)/man$$s && \
		install -m 644 $$m $(DESTDIR)$(MANDIR)/man$$s/ || exit 1; done
install: install-man

$(BUILD)/tests/%.t: $(BUILD)/tests/%.o $(TEST_HELPERS) $(BUILD)/libswapemu.a
	$(CC) $(LDSAN) $(LDFLAGS) -o $@ $^ $(LIBS) -lnbd -luring

# Unit tests first (fast, no root), then the system tests against the kernel.
PROVE := prove --timer --exec tests/tap-run
check: all
	$(PROVE) $(addprefix ./,$(UNIT_TESTS) $(filter-out $(UNIT_TESTS),$(C_TESTS))) \
		$(sort $(wildcard ./tests/*.t))

# Real kernels under QEMU (also part of check; they skip without QEMU).
check-vm: all
	$(PROVE) ./tests/vm-findings.t ./tests/vm.t ./tests/vm-failure.t ./tests/vm-kernel.t ./tests/vm-kill.t ./tests/vm-baseline.t ./tests/vm-scenarios.t ./tests/scenarios-broken-kernel.t

check-unit: all
	$(PROVE) $(addprefix ./,$(UNIT_TESTS))

# The unit tests, and the FUSE daemon and workload under real swap, again
# under AddressSanitizer and UBSan.
check-san:
	$(MAKE) SAN=1 check-unit
	BUILD=$(CURDIR)/build-san SWAPEMU_LIBEXEC=$(CURDIR)/build-san \
		$(PROVE) ./tests/attach.t ./tests/torture-stable.t ./tests/torture-stable-missing.t \
		./tests/fuse-uring.t

# Real memory pressure through a FUSE and an NBD target with faults firing:
# SOAK_SECONDS per front end (make check runs 30 s each).
SOAK_SECONDS ?= 600
soak: all
	SOAK_SECONDS=$(SOAK_SECONDS) TEST_TIMEOUT=$$((2 * $(SOAK_SECONDS) + 1500)) \
		$(PROVE) -v ./tests/soak.t

# libFuzzer harnesses (fuzz/), built with clang, ASan and UBSan into
# build-fuzz; each runs FUZZ_SECONDS. A crash fails; its input is kept in
# build-fuzz/crashes/.
FUZZ_SECONDS ?= 60
FUZZ_BUILD := build-fuzz
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS := -std=gnu11 -Wall -Wextra -D_GNU_SOURCE -Ilib -Icommon -pthread -g -O1 \
	-fno-omit-frame-pointer $(FUZZ_SAN)
FUZZERS := $(patsubst fuzz/%.c,$(FUZZ_BUILD)/%,$(wildcard fuzz/fuzz-*.c))

$(FUZZ_BUILD)/%.o: %.c $(wildcard lib/*.h common/*.h) | deps
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_BUILD)/fuzz-%: fuzz/fuzz-%.c $(LIB_SRCS:%.c=$(FUZZ_BUILD)/%.o) $(wildcard lib/*.h common/*.h) | deps
	clang $(FUZZ_CFLAGS) -Werror -fsanitize=fuzzer -o $@ $< \
		$(LIB_SRCS:%.c=$(FUZZ_BUILD)/%.o) $(LIBS)

fuzz: $(FUZZERS)
	./fuzz/run $(FUZZ_SECONDS) $(FUZZERS)

# Benchmarks (bench/): they print figures and never fail on one.
$(BUILD)/bench/swap-bench: $(BUILD)/bench/swap-bench.o
	$(CC) $(LDSAN) $(LDFLAGS) -o $@ $^
$(BUILD)/bench/model-bench: $(BUILD)/bench/model-bench.o $(BUILD)/libswapemu.a
	$(CC) $(LDSAN) $(LDFLAGS) -o $@ $^ $(LIBS)
$(BUILD)/bench/crc32c-bench: $(BUILD)/bench/crc32c-bench.o $(BUILD)/libswapemu.a
	$(CC) $(LDSAN) $(LDFLAGS) -o $@ $^ $(LIBS)
$(BUILD)/bench/store-io: $(BUILD)/bench/store-io.o $(BUILD)/libswapemu.a
	$(CC) $(LDSAN) $(LDFLAGS) -o $@ $^ $(LIBS)
$(BUILD)/bench/fuse-ref: $(BUILD)/bench/fuse-ref.o
	$(CC) $(LDSAN) $(LDFLAGS) -o $@ $^ -lfuse3 -lpthread
$(BUILD)/bench/capture-timing: $(BUILD)/bench/capture-timing.o $(BUILD)/libswapemu.a
	$(CC) $(LDSAN) $(LDFLAGS) -o $@ $^ -lnbd -lpthread
$(BUILD)/bench/control-latency $(BUILD)/bench/nbd-bench: $(BUILD)/bench/%: $(BUILD)/bench/%.o
	$(CC) $(LDSAN) $(LDFLAGS) -o $@ $^ -lnbd -lpthread
$(BUILD)/bench/inflight-nbd: $(BUILD)/bench/inflight-nbd.o
	$(CC) $(LDSAN) $(LDFLAGS) -o $@ $^ -lnbd

bench-progs: all $(BENCH_PROGS)

bench: bench-progs
	./bench/run-all.sh

demo: all
	./tools/demo

# The README's comparison: the host kernel and Debian's 6.1 (cloud) kernel,
# the three shipped profiles over FUSE and NBD, and the kernel-native
# baselines. COMPARE_OUT=DIR keeps the results there.
COMPARE_KERNEL ?= linux-image-cloud-amd64
COMPARE_ARGS ?= --host --kernel-package $(COMPARE_KERNEL) --repeat 3
compare: all
	./swapemu compare $(COMPARE_ARGS) $(if $(COMPARE_OUT),--out $(COMPARE_OUT))

format:
	clang-format -i $(wildcard common/*.[ch] lib/*.[ch] fusefs/*.[ch] workload/*.[ch] tests/*.[ch] nbdplugin/*.c ctl/*.c man/*.c vm/*.c bench/*.c fuzz/*.c)

# The programs go to libexec, the sourced shell files to share (as laid out
# in the tree); the installed swapemu is told where both are.
# bin/swapemu; the programs in libexec/swapemu (the guest's tools in its
# vm/); the scripts, profiles and the VM runner in share/swapemu, laid out
# as in the tree; the man pages (install-man).
SHARE_FILES := lib/sh/common.sh tools/serve.sh tools/compare tools/compare-validate \
	tools/compare-schema.json tools/demo vm/swapemu-vm vm/init vm/reap-run \
	vm/kernel-findings.sh vm/kernel.sh vm/initramfs.sh vm/kernel.config vm/README.md $(wildcard configs/*.conf)
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/libexec/swapemu/vm
	install -m 755 $(filter-out $(VM_TOOLS),$(PROGRAMS)) $(DESTDIR)$(PREFIX)/libexec/swapemu/
	$(if $(VM_TOOLS),install -m 755 $(VM_TOOLS) $(DESTDIR)$(PREFIX)/libexec/swapemu/vm/)
	for f in $(SHARE_FILES); do \
		install -D -m $$(if [ -x $$f ]; then echo 755; else echo 644; fi) \
			$$f $(DESTDIR)$(PREFIX)/share/swapemu/$$f || exit 1; done
	sed -e 's|^SWAPEMU_LIBEXEC=.*|SWAPEMU_LIBEXEC=$${SWAPEMU_LIBEXEC:-$(PREFIX)/libexec/swapemu}|' \
		-e 's|^SWAPEMU_SHARE=.*|SWAPEMU_SHARE=$${SWAPEMU_SHARE:-$(PREFIX)/share/swapemu}|' \
		swapemu > $(DESTDIR)$(PREFIX)/bin/swapemu
	chmod 755 $(DESTDIR)$(PREFIX)/bin/swapemu

clean:
	rm -rf build build-san build-fuzz
