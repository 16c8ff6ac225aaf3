"""Run the app under gunicorn from `connector serve` (same as `gunicorn 'connector:create_app()'`)."""
from __future__ import annotations

from gunicorn.app.base import BaseApplication


class _Gunicorn(BaseApplication):
    def __init__(self, options: dict) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from connector import create_app
        return create_app()


def run_gunicorn(host: str, port: int, workers: int) -> None:
    _Gunicorn({
        "bind": f"{host}:{port}",
        "workers": workers,
        # Koji waits 10 s for an answer; a request that takes longer is already lost.
        "timeout": 30,
        "graceful_timeout": 10,
        "accesslog": None,
    }).run()
