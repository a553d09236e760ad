"""tickstack: deploy and drive the stock analytics pipeline on an emulator or on AWS."""
