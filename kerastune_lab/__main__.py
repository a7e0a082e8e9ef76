"""`python -m kerastune_lab` is the `kerastune-lab` command."""

from kerastune_lab.cli.main import main

if __name__ == "__main__":
    main()
