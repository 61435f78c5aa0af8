"""Throwaway servers on loopback and the demo that runs a month's first morning on them."""
