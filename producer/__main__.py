"""``python -m animgraph.producer`` is the ``animgraph`` command."""

from animgraph.producer.cli import main

main()
