"""yamlcrawl: a crawl of JSON APIs written as YAML, run in the multiprocessing topology you name."""

__version__ = "0.1.0"
