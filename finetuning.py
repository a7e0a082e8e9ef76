"""Seed 004's finetuning.py: `python finetuning.py --epochs 50 --dropout 0.5`.

A thin entry point; the options are documented by `--help` and the code is
kerastune_lab/cli/finetune.py over kerastune_lab.models.transfer_classifier.
"""

from kerastune_lab.cli.finetune import main

if __name__ == "__main__":
    main()
