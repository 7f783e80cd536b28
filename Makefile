# The Hero Foundry: the README's two commands, plus a few conveniences.
.PHONY: run test lint format venv

run:  ## the whole system: api + Prometheus + Alertmanager + exporters + sink (make run ARGS=--fast)
	@scripts/run.sh $(ARGS)

test:  ## run the whole test suite (installs and starts PostgreSQL/Redis where it can)
	@scripts/test.sh

venv:
	@scripts/bootstrap.sh

lint: venv
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

format: venv
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

.PHONY: bench
bench: venv  ## benchmarks, not tests (about 5 min): metrics middleware HTTP overhead, /metrics render
	.venv/bin/python benchmarks/http_overhead.py $(BENCH_ARGS)
	.venv/bin/python benchmarks/metrics_render.py $(BENCH_ARGS)
