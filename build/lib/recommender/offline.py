"""No network and no telemetry by default, switched off in-process before any dependency is imported.

`recommender/__init__.py` calls `switch_off_telemetry()` first thing, so it holds for the CLI and
for every program that imports the library:
- OpenVINO's telemetry package, which NNCF and OpenVINO's model converter (run by optimum-intel
  when the int8 model is built and loaded) use to send usage events to an analytics host, is made
  unimportable; both fall back to their own no-op stubs. (Left alone, it looks the host up on every
  build that loads the model, and writes ~/intel/.)
- Hugging Face libraries get their telemetry switched off (HF_HUB_DISABLE_TELEMETRY, DO_NOT_TRACK).
- The bundled model and local model folders are loaded with the hubs offline (`offline_hubs()`),
  so nothing is looked up for them; only a hub model id the user names (`build --model ORG/NAME`)
  may reach the network, and only the Hugging Face hub.
Values the environment already sets are left as they are.
"""

from __future__ import annotations

import os
import sys

TELEMETRY_PACKAGES = ("openvino_telemetry",)
TELEMETRY_ENV = {
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
}
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
}


def switch_off_telemetry() -> None:
    """Make telemetry packages unimportable and set the libraries' own opt-outs (idempotent)."""
    for key, value in TELEMETRY_ENV.items():
        os.environ.setdefault(key, value)
    for name in TELEMETRY_PACKAGES:
        # A None entry makes `import name` raise ImportError: the importers' stubs take over.
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]


def offline_hubs() -> None:
    """No hub lookups from here on: for the bundled model and local folders, which need none."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
