from autoresearch.ui.cli import main

main()
