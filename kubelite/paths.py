"""Where kubelite keeps things on a host.

Persistent data (images, container metadata, logs) lives under the data root,
volatile runtime state (like runc's /run/runc) under the state root, which a
reboot clears together with the processes it describes. Tests point both at
temporary directories through the environment.
"""

import os
from pathlib import Path


def data_root() -> Path:
    return Path(os.environ.get("KUBELITE_ROOT", "/var/lib/kubelite"))


def state_root() -> Path:
    return Path(os.environ.get("KUBELITE_STATE", "/run/kubelite"))
