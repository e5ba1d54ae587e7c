"""The omnicx contract: canonical event models, JSON Schemas and the topic registry.

Imports nothing of ours; every other package may import it.
"""
