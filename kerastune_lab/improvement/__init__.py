"""`kerastune-lab improve`: rounds of diagnose -> try the advised changes
over seeds -> adopt the best real one (run_improvement.py)."""
