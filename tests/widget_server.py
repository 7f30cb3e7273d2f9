"""The app factory the browser test serves: `create_app` with render fields from a JSON file.

The store keeps no images or snippets yet (issue 11, part 1), so the test hands the app its
`render` lookup, the seam through which the serving snapshot will fill them. Everything else is the
service as `recommender serve` runs it (same run path, same server).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

RENDER_ENV = "WIDGET_TEST_RENDER"


def app() -> Any:
    from recommender.serve import create_app
    from recommender.serve.config import ServeConfig
    from recommender.serve.items import RenderFields

    config = ServeConfig.from_env()
    fields = json.loads(Path(os.environ[RENDER_ENV]).read_text(encoding="utf-8"))

    def render(catalog: Any, article_id: str) -> RenderFields:
        return RenderFields(**fields.get(article_id, {}))

    return create_app(config.home, cors_origins=config.cors_origins, render=render)


def main() -> None:
    """python -m tests.widget_server HOME PORT ORIGIN"""
    import sys

    from recommender.serve.config import ServeConfig
    from recommender.serve.run import serve

    home, port, origin = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    serve(ServeConfig(Path(home), (origin,)), port=port, target="tests.widget_server:app")


if __name__ == "__main__":
    main()
