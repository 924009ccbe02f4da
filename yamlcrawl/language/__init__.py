"""The crawl language: the schema, YAML with positions, the loader and its checks, templates,
jsonpaths, and the plan a run follows.
"""
