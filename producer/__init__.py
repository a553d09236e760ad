"""Tick sources (live yfinance, recorded files) and the Kinesis sink they feed."""
