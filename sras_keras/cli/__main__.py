"""``python -m sras_keras.cli``: the ``sras`` command."""

from sras_keras.cli import main

main()
