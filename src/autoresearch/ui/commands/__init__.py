"""The command line's commands, grouped by what they do; `autoresearch.ui.cli` gathers them under `main`."""
