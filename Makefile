.PHONY: run test test-postgres lint format bench

PORT ?= 8000

run:            ## install, migrate, seed the demo and start web + worker
	scripts/run --port $(PORT)

test:           ## the whole suite on SQLite (set DATABASE_URL=postgres://… for PostgreSQL)
	scripts/test

test-postgres:  ## the whole suite on the local PostgreSQL database "test"
	DATABASE_URL=postgres://postgres@127.0.0.1:5432/test scripts/test

lint:
	scripts/bootstrap && .venv/bin/ruff check . && .venv/bin/ruff format --check .

format:
	scripts/bootstrap && .venv/bin/ruff format . && .venv/bin/ruff check --fix .

bench:          ## seed 100,000 appointments into PostgreSQL "sw_bench", load the app, print the table (a few minutes)
	scripts/bootstrap && .venv/bin/python -m bench $(BENCH_ARGS)
