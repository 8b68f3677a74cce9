# The two commands a new machine needs: `make demo` and `make test`. Each target
# installs missing Debian packages first (scripts/setup.sh; needs root).
.PHONY: all setup demo test bench install clean

BUILD ?= build/release
PREFIX ?= /usr/local

all: $(BUILD)/.built

setup:
	@scripts/setup.sh demo

$(BUILD)/.built: setup
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j2
	@touch $@

# The main job: the seed's headline. Three HTTP requests that each take a second,
# one after another (about 3 s), then with gather (about 1 s), against a server the
# `cora` command starts on a free loopback port.
demo: setup
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j2 --target cora >/dev/null
	@$(BUILD)/tools/cora/cora fetch

test:
	@scripts/setup.sh test
	@scripts/test.sh

bench:
	@scripts/setup.sh bench
	@bench/run.sh

install: setup
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	@cmake --build $(BUILD) -j2
	@cmake --install $(BUILD)

clean:
	rm -rf build
