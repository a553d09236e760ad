"""Test helpers that stand in for outside services on loopback."""
