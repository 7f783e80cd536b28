"""``python -m hero_foundry.stack up|sink``: the stack's commands without hero_foundry.cli."""

from hero_foundry.stack.cli import main

main()
