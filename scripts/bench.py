"""Benchmark the pipeline on a fresh embedded stack: python scripts/bench.py [--help] (or `make bench`)."""

from tickstack.bench.run import main

if __name__ == "__main__":
    main()
