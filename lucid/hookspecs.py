"""Everything a Lucid plugin may implement. This module is the whole plugin contract.

A plugin is any module or object with functions marked `@lucid.hookimpl` whose names match
the hooks below. Lucid's own ops (`lucid_ops`) are plugins of exactly this kind; third-party
packages are found through the `lucid` entry-point group::

    [project.entry-points.lucid]
    my_ops = "my_package.ops"

pluggy is used to find and register plugins, never to call an op: once registered, an op is
a plain Python callable.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .op import Op

hookspec = pluggy.HookspecMarker("lucid")
hookimpl = pluggy.HookimplMarker("lucid")


@hookspec
def lucid_ops() -> Sequence[Op]:
    """Return the ops this plugin provides, each a `lucid.Op`.

    Every op name must be unique across all plugins. A name with dots places the op in a
    namespace: "linalg.inv" is `lucid.ops.linalg.inv`.
    """
