"""pilotgate: AI pilots to production or shut down, on time, with every decision on record."""

__version__ = "0.1.0"
