"""The app as gunicorn serves it: built and warmed up once, in the master, before workers fork.

gunicorn.conf.py names `create_warm_app()` and sets preload_app, so gunicorn's master process
calls it before it forks any worker: the catalogue is read and the model loaded (or trained)
once, and each worker starts with them in memory, the model's arrays shared copy-on-write.
No worker trains and no request waits for a model.

A factory rather than a module-level `app`, so that importing this module builds nothing
(as for `create_app`); gunicorn calls it. What must not cross the fork is handled where it is
made: store.py's pooled connections and omdb.py's thread pool are remade in each worker.
"""

from __future__ import annotations

import itertools
import logging
import sys
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from flask import Flask

import config as settings_module
from app import configure_logging, create_app

logger = logging.getLogger(__name__)


def create_warm_app(instance_path: str | None = None) -> Flask:
    """The app with everything built, or exit with a message naming the setting to fix.

    `instance_path` as for `create_app` (tests name a folder of their own:
    `gunicorn -c gunicorn.conf.py "wsgi:create_warm_app('/tmp/instance')"`).
    """
    configure_logging()
    try:
        settings = settings_module.from_environment()
        check_production(settings)
        app = create_app(settings, instance_path=instance_path)
    except settings_module.ConfigError as error:
        sys.exit(f"Configuration error: {error}")
    app.extensions["movies"].warm_up()
    _compile_templates(app)
    return app


def check_production(settings: Mapping[str, Any]) -> None:
    """Refuse settings that break as soon as more than one machine serves the app.

    Without SECRET_KEY each machine signs sessions with its own instance/secret-key, so a form
    shown by one server is refused by the next. Shared ratings (DATABASE_URL) are what says
    there may be more than one machine; on one machine the workers share the instance file.
    """
    if settings["DATABASE_URL"] and not settings["SECRET_KEY"]:
        raise settings_module.ConfigError(
            "SECRET_KEY is blank while DATABASE_URL shares ratings between servers: each server "
            "would sign sessions with a key of its own, and forms shown by one would be refused "
            "by another. Set SECRET_KEY to the same random value on every server, e.g. from "
            "python -c 'import secrets; print(secrets.token_hex(32))'."
        )


# Pages served before a new worker accepts: its first few pages, not only the first, were
# slower (each new user's page touches shared memory the earlier ones did not).
WARM_UP_USERS = 10
# A documentation address (TEST-NET-1, RFC 5737): the warm-up's requests count against no
# real client's rate limit.
WARM_UP_CLIENT = "192.0.2.1"


def warm_worker(app: Flask) -> None:
    """In a worker just forked, before it accepts: a few pages through the whole request path.

    A fresh worker shares the master's memory until it writes to it, and its first request
    writes to thousands of shared pages (reference counts, caches), each copied on the spot:
    measured, that made a worker's first page 3x its hundredth. Done here, no visitor waits
    for it. Only for the embedded engine: on Personalize it would be a billed call per worker.
    """
    wiring = getattr(app, "extensions", {}).get("movies")  # None: another app on this config
    if wiring is None or wiring.uses_personalize or not wiring.is_built("interactions"):
        return
    interactions = wiring.interactions
    if interactions is None or not interactions.n_users:
        return
    client = app.test_client()
    pairs = zip(interactions.user_ids, interactions.item_ids, strict=False)
    try:
        # From OMDb's cache only: every worker's start must not spend the key's daily quota.
        with wiring.omdb.cache_only():
            for user_id, item_id in itertools.islice(pairs, WARM_UP_USERS):
                user, item = quote(user_id, safe=""), quote(item_id, safe="")
                for path in (f"/api/recommendations?user_id={user}",
                             f"/recommendations?user_id={user}",
                             f"/movies?item_id={item}&user_id={user}"):
                    client.get(path, environ_base={"REMOTE_ADDR": WARM_UP_CLIENT})
    except Exception:  # a worker that cannot warm up still serves
        logger.warning("Warming up the worker failed; its first page will be slower", exc_info=True)


def _compile_templates(app: Flask) -> None:
    # Jinja compiles a template on its first use in each process; compiled here, in the
    # master, no worker compiles them and the compiled code is shared.
    for name in app.jinja_env.list_templates():
        app.jinja_env.get_template(name)
