"""``python -m hero_foundry.web``: the ``hero-foundry web`` command on its own."""

import typer

from hero_foundry.web.cli import web

if __name__ == "__main__":
    typer.run(web)
