"""tickstack: deploy and drive the stock analytics pipeline on an emulator or on AWS."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tickstack")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
