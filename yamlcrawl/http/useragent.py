"""The User-Agent a crawl sends: a browser's, picked once per process, or its own string."""

from __future__ import annotations

import os

__all__ = ["resolve_user_agent"]

_UA_FAMILIES = {"chrome": "Chrome", "firefox": "Firefox", "safari": "Safari", "edge": "Edge"}

_user_agents: dict[tuple[int, str], str] = {}


def resolve_user_agent(spec: str) -> str:
    """Turn a `user_agent` setting into the header value to send.

    Args:
        spec: `chrome`, `firefox`, `safari` or `edge` (any case) for a desktop UA string of
            that browser from fake-useragent's bundled data, `random` for any UA it knows,
            anything else to be sent literally.

    Returns:
        The User-Agent string; the same one for a given spec for the life of the process.
    """
    family = spec.strip().lower()
    if family not in _UA_FAMILIES and family != "random":
        return spec
    key = (os.getpid(), family)
    if key not in _user_agents:
        # Imported here: loading its data costs ~0.1 s that `yamlcrawl plan` need not pay.
        from fake_useragent import UserAgent

        if family == "random":
            agent = UserAgent()
        else:
            agent = UserAgent(browsers=[_UA_FAMILIES[family]], platforms=["desktop"])
        _user_agents[key] = str(agent.random)
    return _user_agents[key]
