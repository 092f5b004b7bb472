# Cantus: `make run` starts the app, `make test` runs the whole test suite.
# Both first set everything up (system packages, .venv, the project); running them again is harmless.

.PHONY: setup run test

setup:
	@bash scripts/setup.sh

run: setup
	.venv/bin/cantus $(ARGS)

test: setup
	@bash scripts/start-jack.sh
	.venv/bin/python -m pytest -n 2 $(PYTEST_ARGS)
