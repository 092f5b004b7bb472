# Cantus: `make run` starts the app, `make test` runs the whole test suite.
# Both first set everything up (system packages, .venv, the project); running them again is harmless.
# `make package` builds the frozen app (dist/cantus/) and its .deb (dist/); `make package-test`
# builds them, smoke-tests the frozen app, then installs the .deb, smoke-tests it and removes it
# (as root, or through sudo). `make test` ends with `make package-test` unless PACKAGE=0.

PACKAGE ?= 1
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: setup run test package package-test

setup:
	@bash scripts/setup.sh

run: setup
	.venv/bin/cantus $(ARGS)

test: setup
	@bash scripts/start-jack.sh
	.venv/bin/python -m pytest -n 2 $(PYTEST_ARGS)
ifeq ($(PACKAGE),1)
	$(MAKE) --no-print-directory package-test
endif

package: setup
	@bash scripts/package.sh

package-test: package
	python3 packaging/smoke_test.py dist/cantus/cantus
	$(SUDO) python3 packaging/smoke_test.py --deb "dist/cantus_*.deb"
