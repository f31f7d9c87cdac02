"""reel's heavy commands as shards on a Ray cluster (see `reel-ray --help`)."""

from .shards import ShardResult, Summary, run_shards

__all__ = ["ShardResult", "Summary", "run_shards"]
__version__ = "0.1.0"
