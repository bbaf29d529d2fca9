# Entry points; everything real lives in scripts/.
.PHONY: demo test build fuzz format bench

# Builds p2pmesh and runs the local 16-node demo.
demo:
	bash scripts/demo.sh

# Installs what is needed, builds, and runs every test (what CI runs).
test:
	bash scripts/test.sh

build:
	bash scripts/setup.sh
	cmake -S . -B build -G Ninja -DP2P_WERROR=ON >/dev/null
	ninja -C build

# Every benchmark workload (issue 7), 3 runs each, against py2p, js2p, the TCP / ZeroMQ
# ceilings and the shared libraries' RSS floor; writes docs/performance.md and
# docs/performance.svg. Takes tens of minutes: run it on a quiet machine.
# `python3 bench/run.py --quick` checks the suite in a few.
bench:
	bash scripts/setup.sh
	bash scripts/install-references.sh --fix-py2p-framing
	python3 bench/run.py

fuzz:
	bash scripts/fuzz.sh $(or $(SECONDS),60)

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')
