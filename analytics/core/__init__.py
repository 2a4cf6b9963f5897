"""The bottom layer: settings, topics, views (sources and windows), progress, hashing.

Nothing here imports another part of the product; every other package may import it.
"""
