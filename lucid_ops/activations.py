"""(being written)"""
from lucid import hookimpl


@hookimpl
def lucid_ops():
    return []
