# Entry points; everything real lives in scripts/.
.PHONY: demo test build fuzz format

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

fuzz:
	bash scripts/fuzz.sh $(or $(SECONDS),60)

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')
