"""Regenerate the recorded AAPL ticks from bokeh_sampledata: python scripts/make_fixture.py [--help]."""

from tickstack.ops.sample_data import main

if __name__ == "__main__":
    main()
