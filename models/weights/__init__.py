"""The weights registry: what each model is, where it comes from, and the local cache.

Weights are never bundled and never fetched inside a job: ``segmatte models
pull NAME`` fetches them into the standard Hugging Face cache, and engines
only ever read that cache (``local_files_only``).
"""
