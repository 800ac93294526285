"""One changed attribute of a third-party library, as the registry (local/patches.py) lists it.

The modules that change moto, fakesnow and the rest never assign those attributes themselves:
each lists its changes as `Patch` records in a PATCHES list beside the replacements, and
local/patches.py checks and installs them all. A replacement that builds on the library's own
behaviour calls it through `upstream(target, name)`, which answers the attribute as the library
defines it, whether the patch is installed or not.

This module imports nothing of the stack's, so that every module can use it without a circle.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from typing import Any, Literal


class _Absent:
    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()  # what upstream() answers for an attribute the library does not have

# (target, name) -> the attribute as the library defined it when the patch was installed (ABSENT
# for an "add"). Only Patch.apply writes here, once per attribute.
_upstream: dict[tuple[Any, str], Any] = {}


def upstream(target: Any, name: str) -> Any:
    """`target.name` as the library defines it, or ABSENT.

    Looked up without descriptors (inspect.getattr_static): a classmethod comes back as the
    classmethod object, so a wrapper calls `upstream(...).__func__(cls, ...)`.
    """
    key = (target, name)
    if key in _upstream:
        return _upstream[key]
    return inspect.getattr_static(target, name, ABSENT)


def described(target: Any) -> str:
    """A class as module.Class, a module as its dotted name."""
    if inspect.isclass(target):
        return f"{target.__module__}.{target.__qualname__}"
    return getattr(target, "__name__", repr(target))


@dataclass(frozen=True, eq=False)
class Patch:
    """One attribute of a third-party class or module that the local stack changes.

    kind:
    - "replace": upstream has the attribute and we change its behaviour (upstream's own stays
      reachable through `upstream()`); if upstream renames or drops it, verification fails;
    - "add": upstream lacks it (e.g. a handler moto does not implement); if upstream gains it,
      verification fails, so that someone decides whether ours is still needed;
    - "setting": a module-level value that the stack assigns when it runs (a folder, a count),
      so install() leaves it alone; it is listed so that a rename upstream fails verification
      instead of the stack's assignment creating an attribute nobody reads.
    """

    target: Any  # the class or module
    name: str
    replacement: Any  # the new attribute; None for a "setting"
    why: str  # one short line: what upstream lacks or gets wrong
    kind: Literal["replace", "add", "setting"] = "replace"
    # For an "add" that upstream looks up by name (`if hasattr(self, name)`) instead of calling
    # it: the upstream (class or module, function) that looks it up. Its source must still name
    # the attribute (`.name` or "name"), or a rename upstream would switch the patch off silently.
    looked_up_by: tuple[Any, str] | None = None

    @property
    def where(self) -> str:
        return f"{described(self.target)}.{self.name}"

    @property
    def installed(self) -> bool:
        return (self.target, self.name) in _upstream

    def problem(self) -> str | None:
        """Why this patch would not do its job on the library as installed, or None."""
        found = upstream(self.target, self.name)
        if self.kind in ("replace", "setting") and found is ABSENT:
            return (
                f"{self.where} no longer exists upstream (renamed or removed?), so the patch "
                f"would change nothing the library uses ({self.why})"
            )
        if self.kind == "add" and found is not ABSENT:
            return (
                f"{self.where} now exists upstream: check whether the patch is still needed, "
                f"then drop it or register it as a 'replace' ({self.why})"
            )
        if self.looked_up_by is not None:
            owner, function = self.looked_up_by
            code = upstream(owner, function)
            try:
                source = inspect.getsource(code) if code is not ABSENT else ""
            except (OSError, TypeError):
                source = ""
            if not re.search(rf"[.'\"]{re.escape(self.name)}\b", source):
                return (
                    f"{self.where}: {described(owner)}.{function} no longer looks it up, so "
                    f"the patch would be ignored ({self.why})"
                )
        return None

    def apply(self) -> None:
        """Set the attribute, recording upstream's first; a second call changes nothing."""
        if self.kind == "setting" or self.installed:
            return
        _upstream[(self.target, self.name)] = inspect.getattr_static(self.target, self.name, ABSENT)
        setattr(self.target, self.name, self.replacement)
