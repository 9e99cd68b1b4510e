# The two commands (see README.md). Both install what is missing first.
.PHONY: run test bench chaos cluster

run:
	bash scripts/run.sh

test:
	bash scripts/test.sh

bench:
	bash scripts/bench.sh

chaos:
	bash scripts/chaos.sh

cluster:
	bash scripts/cluster.sh
